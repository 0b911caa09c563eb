import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { quoteIdentifier } from '../src/sql/identifiers.js'
import { runCli, startCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, rows, serverKnex, serverUrl, type TestDatabase } from './helpers/database.js'
import { install } from './helpers/install.js'
import { startServe } from './helpers/serve.js'
import { until } from './helpers/wait.js'

// Long-running drains call family_sync_drain again and again; an account with
// rights on this database may have replaced it with SQL SECURITY INVOKER code,
// which then runs with the rights of whoever calls it. So they run as an
// account whose rights end at this database, and refuse one whose rights reach
// further unless told to accept that.
describe('long-running drains and the account they run as', () => {
  let db: TestDatabase
  const admin = serverKnex()
  const drainer = `fs_drainer_${process.pid % 100000}`
  const elsewhere = `fs_elsewhere_${process.pid % 100000}`
  const secret = 'Drainer-pa55-word'
  const urlOf = (user: string) => {
    const server = new URL(serverUrl())
    return `mysql://${user}:${secret}@${server.host}/${encodeURIComponent(db.name)}`
  }

  beforeAll(async () => {
    db = await createTestDatabase()
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
    await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (2, 'child', 1, 1)")
    await install(db.knex)
    for (const user of [drainer, elsewhere]) {
      await admin.raw(`CREATE USER ?@'%' IDENTIFIED BY '${secret}'`, [user])
      await admin.raw(`GRANT SELECT, EXECUTE ON ${quoteIdentifier(db.name)}.* TO ?@'%'`, [user])
    }
    // The same, and one right on another database besides.
    await admin.raw(`GRANT SELECT ON ${quoteIdentifier(`${db.name}_other`)}.* TO ?@'%'`, [elsewhere])
  })
  afterAll(async () => {
    for (const user of [drainer, elsewhere]) await admin.raw("DROP USER IF EXISTS ?@'%'", [user])
    await admin.destroy()
    await db?.drop()
  })

  it('drain --watch refuses root and an account with rights on another database, with one line saying why and what to run; the queue stays as it was', async () => {
    await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 1')
    for (const [who, url, reach] of [
      ['root', db.url, / ON \*\.\*/],
      [elsewhere, urlOf(elsewhere), new RegExp(`SELECT ON \`${db.name}_other\`\\.\\*`)],
    ] as const) {
      const result = await runCli(['drain', '--watch', '--url', url], { timeoutMs: 30_000 })
      expect(result.code, `${who}: ${result.stdout}${result.stderr}`).toBe(2)
      const said = result.stderr.trim().split('\n')
      expect(said.at(-1)).toMatch(/may do more than this database needs \(.*\): a long-running drain as .* would run family_sync_drain with those rights.*SELECT and EXECUTE on this database only.*--allow-privileged-account/)
      expect(said.at(-1)).toMatch(reach)
      expect(result.stderr + result.stdout).not.toContain(secret)
    }
    expect(await rows(db.knex, 'SELECT parent_id FROM family_sync_queue')).toEqual([{ parent_id: 1 }])
    expect(await familyOf(db.knex, 2)).toBe(1)
  })

  it('the drain role (SELECT and EXECUTE here only) drains with drain --watch; root does with --allow-privileged-account', async () => {
    for (const [url, extra, family] of [[urlOf(drainer), [], 2], [db.url, ['--allow-privileged-account'], 3]] as const) {
      if (family === 3) await db.knex.raw('UPDATE users SET family_id = 3 WHERE id = 1')
      const watch = startCli(['drain', '--watch', ...extra, '--url', url])
      let output = ''
      watch.stdout.on('data', (chunk) => (output += chunk))
      watch.stderr.on('data', (chunk) => (output += chunk))
      const exited = new Promise<number | null>((resolve) => watch.once('exit', (code) => resolve(code)))
      try {
        expect(await until(async () => (await familyOf(db.knex, 2)) === family, 20_000), output).toBe(true)
      } finally {
        watch.kill('SIGTERM')
      }
      expect(await exited, output).toBe(0)
      expect(output).not.toMatch(/may do more/)
    }
  })

  it('serve as root keeps serving, says once why it does not drain, and leaves the queue alone', async () => {
    await db.knex.raw('UPDATE users SET family_id = 1 WHERE id = 1')
    const served = await startServe(['--url', db.url, '--scan-interval', '3600'])
    try {
      expect(await until(async () => /cannot drain: .*may do more than this database needs/.test(served.output()), 20_000), served.output()).toBe(true)
      expect((await served.get('/healthz')).status).toBe(200)
      expect(await rows(db.knex, 'SELECT parent_id FROM family_sync_queue')).toEqual([{ parent_id: 1 }])
    } finally {
      await served.stop()
    }
  })
})
