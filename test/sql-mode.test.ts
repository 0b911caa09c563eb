import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { checkConsistency } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import type { ExtraServer } from './helpers/servers.js'
import { startSuiteServer, suiteBuild } from './helpers/suite-build.js'
import { describeWithOwnServers } from './helpers/requires.js'

// The global sql_mode reaches every new session, so these run on a server of
// their own rather than on the one the other test files share.
describeWithOwnServers()('a server-wide sql_mode', () => {
  let server: ExtraServer
  let admin: Knex
  beforeAll(async () => {
    server = await startSuiteServer()
    admin = knexFactory({ client: 'mysql2', connection: server.url, pool: { min: 0, max: 1 } })
  }, 120_000)
  afterAll(async () => {
    await admin?.destroy()
    await server?.remove()
  })

  for (const mode of ['ORACLE', 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES']) {
    // MariaDB's ORACLE mode changes how a stored body parses; MySQL has no such mode.
    const missing = mode === 'ORACLE' && suiteBuild()?.engine === 'mysql'
    if (missing) console.warn('family-sync tests: skipped sql_mode ORACLE: MySQL has no ORACLE mode')
    ;(missing ? it.skip : it)(`${mode}: migrate up, verify and check work, the objects keep family-sync's own mode, and the triggers work`, async () => {
      const database = `app_${mode.replace(/\W/g, '_').toLowerCase()}`
      await admin.raw(`CREATE DATABASE ${database}`)
      const setup = knexFactory({ client: 'mysql2', connection: `${server.url}/${database}`, pool: { min: 0, max: 1 } })
      for (const ddl of APP_SCHEMA) await setup.raw(ddl)
      await setup.raw("INSERT INTO families (id, name) VALUES (1, 'Sela'), (2, 'Other')")
      await setup.raw("INSERT INTO users (id, username, is_parent, family_id) VALUES (2, 'asela', TRUE, 1)")
      await setup.raw("INSERT INTO users (id, username, parent_id) VALUES (3, 'Makoto', 2)")
      await setup.destroy()
      await admin.raw(`SET GLOBAL sql_mode = '${mode}'`)
      // A session opened now, as the application's would be.
      const app = knexFactory({ client: 'mysql2', connection: `${server.url}/${database}`, pool: { min: 1, max: 1 } })
      try {
        const url = `${server.url}/${database}`
        const up = await runCli(['migrate', 'up', '--url', url])
        expect(up.code, up.stderr).toBe(0)
        const verify = JSON.parse((await runCli(['verify', '--json', '--url', url])).stdout)
        expect(verify.problems).toEqual([])
        expect((await runCli(['check', '--url', url])).code).toBe(0)

        const [[before]] = (await app.raw('SELECT @@SESSION.sql_mode AS mode')) as [[{ mode: string }]]
        expect(before.mode).toContain(mode.split(',')[0])
        expect((await checkConsistency(app)).ok).toBe(true)
        const [[after]] = (await app.raw('SELECT @@SESSION.sql_mode AS mode')) as [[{ mode: string }]]
        expect(after.mode).toBe(before.mode)

        await app.raw("INSERT INTO users (id, username, parent_id) VALUES (4, 'Eli', 2)")
        const [[eli]] = (await app.raw('SELECT family_id FROM users WHERE id = 4')) as [[{ family_id: number }]]
        expect(eli.family_id).toBe(1)
        await app.raw('UPDATE users SET family_id = 2 WHERE id = 2')
        expect((await runCli(['drain', '--url', url])).code).toBe(0)
        const [[moved]] = (await app.raw('SELECT family_id FROM users WHERE id = 3')) as [[{ family_id: number }]]
        expect(moved.family_id).toBe(2)
        const [modes] = (await app.raw("SELECT DISTINCT SQL_MODE AS m FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")) as [Array<{ m: string }>]
        for (const { m } of modes) expect(m).not.toMatch(/ORACLE|ANSI_QUOTES|NO_BACKSLASH_ESCAPES/)
      } finally {
        await app.destroy()
        await admin.raw("SET GLOBAL sql_mode = DEFAULT")
      }
    }, 60_000)
  }
})
