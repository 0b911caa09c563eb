import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createMigrator } from '../src/migrator/create-migrator.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import { describeWithOwnServers } from './helpers/requires.js'
import type { ExtraServer } from './helpers/servers.js'
import { startSuiteServer } from './helpers/suite-build.js'
import { until } from './helpers/wait.js'

// A view put in place of the queue while the drain event runs and the
// application writes. MariaDB 10.11 crashed (signal 11) within a second of
// the swap, in the drain's first statement over the view: on a server of
// its own, so that a regression takes down nothing else.
describeWithOwnServers()('a view swapped in for the queue while the drain event runs', () => {
  let server: ExtraServer
  let root: Knex
  let app: Knex

  beforeAll(async () => {
    server = await startSuiteServer({ args: ['--event-scheduler=ON'] })
    root = knexFactory({ client: 'mysql2', connection: server.url, pool: { min: 0, max: 2 } })
    await root.raw('CREATE DATABASE app')
    app = knexFactory({ client: 'mysql2', connection: `${server.url}/app`, pool: { min: 0, max: 4 } })
    for (const ddl of APP_SCHEMA) await app.raw(ddl)
    await app.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
    await app.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
    await app.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1)")
    await createMigrator(app).up()
  }, 120_000)
  afterAll(async () => {
    await app?.destroy()
    await root?.destroy()
    await server?.remove()
  })

  it('the server stays up, the drain leaves what the view stands for alone, move_children refuses with an error naming it, verify names it; once the table is back everything queued meanwhile is applied', async () => {
    const families = async () => ((await app.raw('SELECT id, family_id FROM users ORDER BY id')) as [Array<{ id: number; family_id: number }>])[0]
    expect(await families()).toEqual([{ id: 1, family_id: 1 }, { id: 2, family_id: 1 }])
    await app.raw('RENAME TABLE family_sync_queue TO family_sync_queue_real')
    await app.raw('CREATE VIEW family_sync_queue AS SELECT * FROM family_sync_queue_real')
    const [[{ swapped }]] = (await root.raw('SELECT NOW() AS swapped')) as [[{ swapped: Date }]]
    // The application keeps changing the parent's family until two runs of the event started after the swap.
    let writes = 0
    const ranTwice = await until(async () => {
      await app.raw('UPDATE users SET family_id = IF(family_id = 1, 2, 1) WHERE id = 1')
      writes++
      const [[{ at }]] = (await root.raw("SELECT MAX(LAST_EXECUTED) AS at FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'app'")) as [[{ at: Date | null }]]
      return at !== null && at.getTime() >= swapped.getTime() + 11_000
    }, 60_000)
    expect(ranTwice).toBe(true)
    // Up, and the same server: no restart in between.
    expect(server.pid).toBeDefined()
    expect(((await root.raw('SELECT 1 AS up')) as [[{ up: number }]])[0][0].up).toBe(1)
    // The triggers queued every change through the view; no drain applied any.
    const [[{ queued }]] = (await app.raw('SELECT COUNT(*) AS queued FROM family_sync_queue_real')) as [[{ queued: number }]]
    expect(Number(queued)).toBe(writes)
    expect((await families())[1].family_id).toBe(1)
    const drained = await runCli(['drain', '--url', `${server.url}/app`])
    expect(drained.stdout + drained.stderr).toMatch(/drained 0 queued parents/)
    const moved = await app.raw('CALL family_sync_move_children(1)').catch((error: { sqlMessage?: string }) => error.sqlMessage)
    expect(moved).toMatch(/family-sync: family_sync_queue or family_sync_audit is not a table any more.*run family-sync verify/)
    const verify = await runCli(['verify', '--url', `${server.url}/app`])
    expect(verify.code).toBe(1)
    expect(verify.stdout).toMatch(/family_sync_queue is a view, not family-sync's table/)

    await app.raw('DROP VIEW family_sync_queue')
    await app.raw('RENAME TABLE family_sync_queue_real TO family_sync_queue')
    const parentFamily = (await families())[0].family_id
    expect(await until(async () => (await families())[1].family_id === parentFamily, 30_000)).toBe(true)
    expect((await runCli(['verify', '--url', `${server.url}/app`])).code).toBe(0)
  }, 180_000)
})
