import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import knexFactory, { type Knex } from 'knex'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { quoteIdentifier } from '../src/sql/identifiers.js'
import { packageRoot } from '../src/paths.js'
import { installRequirements } from '../src/db/privileges.js'
import { STORED_OBJECTS } from '../src/db/catalogue.js'
import type { ServerInfo } from '../src/db/introspect.js'
import { capabilitiesOf } from '../src/db/capabilities.js'
import { catalogueWith } from './helpers/catalogue.js'
import { install } from './helpers/install.js'
import { startBinlogServer } from './helpers/suite-build.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA, createTestDatabase, isMySql, rows, serverKnex, serverUrl, type TestDatabase } from './helpers/database.js'
import { createFamily, insertBugReportPeople } from './helpers/family.js'
import { holdDrainEvent, ourObjects } from './helpers/install.js'

// The README's list, read from the README: the test fails if the two part ways.
const README_PRIVILEGES = (() => {
  const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8')
  const line = /\*\*Privileges\*\* for the account that runs `migrate up` and `migrate down` on MariaDB: (.*?)\./.exec(readme.replace(/\n/g, ' '))
  if (!line) throw new Error('README: the privileges sentence is missing')
  return [...line[1].matchAll(/`([A-Z ]+)`/g)].map((m) => m[1])
})()
// MySQL, which has no CREATE OR REPLACE TRIGGER, also needs LOCK TABLES (the README says so too).
async function everything(knex: Knex): Promise<string[]> {
  return [...README_PRIVILEGES, 'EVENT', ...((await isMySql(knex)) ? ['LOCK TABLES'] : [])]
}

/**
 * Where binary logging is on and log_bin_trust_function_creators off (MySQL's
 * defaults), CREATE TRIGGER also wants a global privilege: the deploying
 * account gets the one the server names for it.
 */
async function grantBinlogTriggerPrivilege(knex: Knex, user: string): Promise<void> {
  const [[row]] = (await knex.raw('SELECT @@global.log_bin AS logBin, @@global.log_bin_trust_function_creators AS trust, VERSION() AS v')) as [[{ logBin: number; trust: number; v: string }]]
  if (Number(row.logBin) && !Number(row.trust)) await knex.raw(`GRANT ${capabilitiesOf(row.v).binlogTriggerPrivileges.at(-1)} ON *.* TO ?@'%'`, [user])
}

async function ourObjectCount(knex: Knex): Promise<number> {
  return (await ourObjects(knex)).length
}

describe('accounts missing a grant', () => {
  const admin = serverKnex()
  const made: string[] = []
  let db: TestDatabase

  beforeAll(async () => {
    db = await createTestDatabase()
    await insertBugReportPeople(db.knex)
    await createFamily(db.knex, 2, 'Sela', 1)
  })
  afterAll(async () => {
    for (const user of made) await admin.raw("DROP USER IF EXISTS ?@'%'", [user])
    await admin.destroy()
    await db.drop()
  })

  const accountName = (missing: string) => `fs_no_${missing.replace(/\s/g, '_').toLowerCase()}_${process.pid % 10000}`

  async function accountWithout(missing: string): Promise<string> {
    const user = accountName(missing)
    made.push(user)
    await admin.raw("DROP USER IF EXISTS ?@'%'", [user])
    await admin.raw("CREATE USER ?@'%' IDENTIFIED BY 'Acc0unt-pw'", [user])
    const grants = (await everything(admin)).filter((p) => p !== missing).join(', ')
    await admin.raw(`GRANT ${grants} ON ${quoteIdentifier(db.name)}.* TO ?@'%'`, [user])
    await grantBinlogTriggerPrivilege(admin, user)
    return accountUrl(missing)
  }

  function accountUrl(missing: string): string {
    const server = new URL(serverUrl())
    return `mysql://${accountName(missing)}:Acc0unt-pw@${server.host}/${encodeURIComponent(db.name)}`
  }

  for (const missing of ['TRIGGER', 'CREATE ROUTINE', 'ALTER ROUTINE', 'DROP', 'EXECUTE', 'ALTER']) {
    it(`without ${missing}: exit 2 naming the grant, nothing created`, async () => {
      const result = await runCli(['migrate', 'up', '--url', await accountWithout(missing)])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`lacks the ${missing} privilege`)
      expect(result.stderr).toContain(`GRANT ${missing} ON`)
      expect(result.stderr).not.toContain('Acc0unt-pw')
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(await ourObjectCount(db.knex)).toBe(0)
    })
  }

  it('without EVENT: installs the rest, warns with the fallback, and the event is absent', async () => {
    const result = await runCli(['migrate', 'up', '--url', await accountWithout('EVENT')])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/lacks the EVENT privilege.*family-sync drain --watch/)
    const [events] = await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()')
    expect(Number(events.n)).toBe(0)
    const [triggers] = await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()')
    expect(Number(triggers.n)).toBe(STORED_OBJECTS.filter((o) => o.kind === 'trigger').length)
    // The GRANT it prints runs as it stands when pasted, and then migrate up installs the event.
    const grant = /GRANT EVENT ON \S+ TO '[^']+'@'[^']+'/.exec(result.stderr)?.[0]
    expect(grant, result.stderr).toBeDefined()
    await admin.raw(grant!)
    const again = await runCli(['migrate', 'up', '--url', await accountUrl('EVENT')])
    expect(again.code, again.stderr).toBe(0)
    const [after] = await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()')
    expect(Number(after.n)).toBe(1)
  })
})

describe('the README list of privileges', () => {
  it('is exactly what the preflight requires on MariaDB', () => {
    const mariadb = { capabilities: capabilitiesOf('10.11.19-MariaDB'), galera: false } as ServerInfo
    expect([...README_PRIVILEGES].sort()).toEqual(installRequirements(mariadb).map((r) => r.privilege).sort())
  })

  it('is enough for install, an upgrade that replaces the procedure, and migrate down to the start', async () => {
    const db = await createTestDatabase()
    const admin = serverKnex()
    const user = `fs_exact_${process.pid % 10000}`
    const old = catalogueWith({ family_sync_drain: (sql) => sql.replace('SET applied = 0;', 'SET applied = 0 + 0;') })
    try {
      await insertBugReportPeople(db.knex)
      await createFamily(db.knex, 2, 'Sela', 1)
      await admin.raw("CREATE USER ?@'%' IDENTIFIED BY 'Exact-pw-1'", [user])
      await admin.raw(`GRANT ${(await everything(admin)).join(', ')} ON ${quoteIdentifier(db.name)}.* TO ?@'%'`, [user])
      await grantBinlogTriggerPrivilege(admin, user)
      const url = `mysql://${user}:Exact-pw-1@${new URL(serverUrl()).host}/${encodeURIComponent(db.name)}`
      const up = await runCli(['migrate', 'up', '--url', url])
      expect(up.code, up.stderr).toBe(0)
      expect((await runCli(['verify', '--url', url])).code).toBe(0)
      // An earlier version's procedure body, replaced by migrate up as this account.
      await install(db.knex, { catalogue: old.catalogue, keepEvent: true })
      const upgrade = await runCli(['migrate', 'up', '--url', url])
      expect(upgrade.code, upgrade.stderr).toBe(0)
      expect(upgrade.stdout).toContain('installed procedure family_sync_drain')
      const down = await runCli(['migrate', 'down', '--to', '0', '--url', url])
      expect(down.code, down.stderr).toBe(0)
      expect((await ourObjects(db.knex)).map((o) => o.name).sort()).toEqual(['family_sync_audit', 'family_sync_migrations'])
    } finally {
      old.remove()
      await admin.raw("DROP USER IF EXISTS ?@'%'", [user])
      await admin.destroy()
      await db.drop()
    }
  })
})

describe('monitoring accounts', () => {
  let db: TestDatabase
  let releaseEvent = async () => {}
  const admin = serverKnex()
  const accounts: Record<string, string> = {}
  beforeAll(async () => {
    db = await createTestDatabase()
    await insertBugReportPeople(db.knex)
    await createFamily(db.knex, 2, 'Sela', 1)
    expect((await runCli(['migrate', 'up', '--url', db.url])).code).toBe(0)
    releaseEvent = await holdDrainEvent(db.name)
    for (const [name, grants] of [['select', 'SELECT'], ['app', 'SELECT, INSERT, UPDATE, DELETE']]) {
      const user = `fs_mon_${name}_${process.pid % 10000}`
      await admin.raw("DROP USER IF EXISTS ?@'%'", [user])
      await admin.raw("CREATE USER ?@'%' IDENTIFIED BY 'Mon-pw-1'", [user])
      await admin.raw(`GRANT ${grants} ON ${quoteIdentifier(db.name)}.* TO ?@'%'`, [user])
      accounts[name] = `mysql://${user}:Mon-pw-1@${new URL(serverUrl()).host}/${encodeURIComponent(db.name)}`
    }
  })
  afterAll(async () => {
    await releaseEvent()
    for (const name of Object.keys(accounts)) await admin.raw("DROP USER IF EXISTS ?@'%'", [`fs_mon_${name}_${process.pid % 10000}`])
    await admin.destroy()
    await db.drop()
  })

  it('check works with SELECT only', async () => {
    const check = await runCli(['check', '--json', '--url', accounts.select])
    expect(check.code, check.stderr).toBe(0)
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, mismatchCount: 0 })
  })

  for (const name of ['select', 'app']) {
    it(`verify as the ${name} account exits 2 naming the grants that would let it see the objects; stdout stays empty`, async () => {
      for (const args of [['verify'], ['verify', '--json'], ['check', '--prometheus']]) {
        const result = await runCli([...args, '--url', accounts[name]])
        expect(result.code, args.join(' ')).toBe(2)
        expect(result.stdout).toBe('')
        expect(result.stderr.trim().split('\n')).toHaveLength(1)
        expect(result.stderr).toMatch(/cannot see family-sync's triggers and events and procedures: .*GRANT EXECUTE ON `[^`]+`\.\* TO 'fs_mon_\w+'@'%'/)
        expect(result.stderr).not.toContain('Mon-pw-1')
      }
    })
  }

  it('the GRANT it names runs as printed; with SELECT and EXECUTE the account verifies with no note of what it cannot see, and drains', async () => {
    const refused = await runCli(['verify', '--url', accounts.select])
    const grant = /GRANT EXECUTE ON \S+ TO '[^']+'@'[^']+'/.exec(refused.stderr)?.[0]
    expect(grant, refused.stderr).toBeDefined()
    await admin.raw(grant!)
    const verify = await runCli(['verify', '--json', '--url', accounts.select])
    expect(verify.code, verify.stderr).toBe(0)
    expect(JSON.parse(verify.stdout).notes.filter((n: string) => !/event scheduler/.test(n))).toEqual([])
    // The drain procedure runs with its definer's rights: EXECUTE is all a drain or serve account needs.
    await db.knex.raw('UPDATE users SET family_id = NULL WHERE id = 2')
    await db.knex.raw("INSERT INTO families (id, name) VALUES (5, 'five')")
    await db.knex.raw('UPDATE users SET family_id = 5 WHERE id = 2')
    const drained = await runCli(['drain', '--url', accounts.select])
    expect(drained.code, drained.stderr).toBe(0)
    expect(drained.stdout).toContain('drained 1 queued parents')
    expect(await rows(db.knex, 'SELECT id FROM users WHERE parent_id = 2 AND NOT (family_id <=> 5)')).toEqual([])
  })
})

describe('binary logging on, no SUPER', () => {
  let server: Awaited<ReturnType<typeof startBinlogServer>>
  let admin: Knex
  beforeAll(async () => {
    server = await startBinlogServer()
    admin = knexFactory({ client: 'mysql2', connection: server.url })
  }, 120_000)
  afterAll(async () => {
    await admin?.destroy()
    await server?.remove()
  })

  it('the preflight explains log_bin_trust_function_creators and stops before changing anything; with it set, migrate up works', async () => {
    await admin.raw('CREATE DATABASE app')
    const app = knexFactory({ client: 'mysql2', connection: `${server.url}/app` })
    try {
      for (const ddl of APP_SCHEMA) await app.raw(ddl)
      await app.raw("INSERT INTO families (id, name) VALUES (1, 'Sela')")
      await app.raw("INSERT INTO users (id, username, family_id) VALUES (2, 'asela', 1)")
      await app.raw("INSERT INTO users (id, username, parent_id) VALUES (3, 'Makoto', 2)")
      const [[logBin]] = (await admin.raw('SELECT @@global.log_bin AS on_')) as [[{ on_: number }]]
      expect(Number(logBin.on_)).toBe(1)
      await admin.raw('SET GLOBAL log_bin_trust_function_creators = 0')
      await admin.raw("CREATE USER 'deployer'@'%' IDENTIFIED BY 'Dep-pw-1'")
      await admin.raw(`GRANT ${(await everything(admin)).join(', ')} ON app.* TO 'deployer'@'%'`)
      const url = `${server.url.replace('mysql://root', 'mysql://deployer:Dep-pw-1')}/app`

      const refused = await runCli(['migrate', 'up', '--url', url])
      expect(refused.code).toBe(2)
      expect(refused.stderr).toMatch(/binary logging is on.*log_bin_trust_function_creators.*1419/)
      expect(refused.stderr).not.toContain('Dep-pw-1')
      expect(await ourObjectCount(app)).toBe(0)

      await admin.raw('SET GLOBAL log_bin_trust_function_creators = 1')
      const up = await runCli(['migrate', 'up', '--url', url])
      expect(up.code, up.stderr).toBe(0)
      const [[child]] = (await app.raw('SELECT family_id FROM users WHERE id = 3')) as [[{ family_id: number }]]
      expect(child.family_id).toBe(1)
    } finally {
      await app.destroy()
    }
  }, 120_000)
})
