import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import knexFactory, { type Knex } from 'knex'
import { quoteIdentifier } from '../src/sql/identifiers.js'
import { startBinlogServer, type ExtraServer } from './helpers/binlog-server.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA, createTestDatabase, rows, serverKnex, serverUrl, type TestDatabase } from './helpers/database.js'
import { createFamily, insertBugReportPeople } from './helpers/family.js'
import { ourObjects } from './helpers/install.js'

const EVERYTHING = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'TRIGGER', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EXECUTE', 'EVENT']

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

  async function accountWithout(missing: string): Promise<string> {
    const user = `fs_no_${missing.replace(/\s/g, '_').toLowerCase()}_${process.pid % 10000}`
    made.push(user)
    await admin.raw("DROP USER IF EXISTS ?@'%'", [user])
    await admin.raw("CREATE USER ?@'%' IDENTIFIED BY 'Acc0unt-pw'", [user])
    const grants = EVERYTHING.filter((p) => p !== missing).join(', ')
    await admin.raw(`GRANT ${grants} ON ${quoteIdentifier(db.name)}.* TO ?@'%'`, [user])
    const server = new URL(serverUrl())
    return `mysql://${user}:Acc0unt-pw@${server.host}/${encodeURIComponent(db.name)}`
  }

  for (const missing of ['TRIGGER', 'CREATE ROUTINE']) {
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
    expect(Number(triggers.n)).toBe(3)
  })
})

describe('binary logging on, no SUPER', () => {
  let server: ExtraServer
  let admin: Knex
  beforeAll(async () => {
    server = await startBinlogServer()
    admin = knexFactory({ client: 'mysql2', connection: server.url })
  }, 120_000)
  afterAll(async () => {
    await admin?.destroy()
    await server?.stop()
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
      await admin.raw(`GRANT ${EVERYTHING.join(', ')} ON app.* TO 'deployer'@'%'`)
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
