import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import type { ExtraServer } from './helpers/servers.js'
import { startSuiteServer } from './helpers/suite-build.js'
import { until } from './helpers/wait.js'
import { describeWithOwnServers } from './helpers/requires.js'

// The drain event as it runs for months: a server of the test's own with the
// event scheduler ON and binary logging on, so that turning the scheduler
// off and counting binlog writes disturbs no other test.
describeWithOwnServers()('the drain event on a server with the scheduler on', () => {
  let server: ExtraServer
  let admin: Knex
  let app: Knex
  const url = () => `${server.url}/app`

  /** Threads working in the app database, other than idle ones: the event's runs and whatever else runs there. */
  async function busyThreads(): Promise<number> {
    const [[row]] = (await admin.raw("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = 'app' AND COMMAND <> 'Sleep' AND ID <> CONNECTION_ID()")) as [[{ n: number }]]
    return Number(row.n)
  }

  async function scalar(sql: string): Promise<number> {
    const [[row]] = (await admin.raw(sql)) as [[Record<string, unknown>]]
    return Number(Object.values(row)[0])
  }

  beforeAll(async () => {
    server = await startSuiteServer({ args: ['--event-scheduler=ON', '--log-bin=binlog', '--server-id=3', '--binlog-format=ROW', '--log-bin-trust-function-creators=ON'] })
    admin = knexFactory({ client: 'mysql2', connection: server.url, pool: { min: 0, max: 2 } })
    await admin.raw('CREATE DATABASE app')
    app = knexFactory({ client: 'mysql2', connection: url(), pool: { min: 0, max: 4 } })
    for (const ddl of APP_SCHEMA) await app.raw(ddl)
    await app.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
    await app.transaction(async (trx) => {
      await trx.raw('SET SESSION cte_max_recursion_depth = 1000000').catch(() => {})
      await trx.raw('SET SESSION max_recursive_iterations = 1000000').catch(() => {})
      const seq = 'WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 30000)'
      await trx.raw(`INSERT INTO users (id, username, family_id) ${seq} SELECT n, 'p', 1 FROM seq`)
      await trx.raw(`INSERT INTO users (id, username, parent_id) ${seq} SELECT 100000 + n, 'c', n FROM seq`)
    })
    const up = await runCli(['migrate', 'up', '--url', url()])
    expect(up.code, up.stderr).toBe(0)
  }, 120_000)
  afterAll(async () => {
    await app?.destroy()
    await admin?.destroy()
    await server?.remove()
  })

  it('a 30,000-entry backlog: one run drains, at most one more waits, never more; the backlog converges', async () => {
    await app.raw('UPDATE users SET family_id = 2 WHERE id <= 30000')
    // The run already looking for work may have taken the first few by now.
    expect(await scalar('SELECT COUNT(*) FROM app.family_sync_queue')).toBeGreaterThan(29_000)
    let most = 0
    const samples: number[] = []
    const converged = await until(async () => {
      const threads = await busyThreads()
      samples.push(threads)
      most = Math.max(most, threads)
      return (await scalar('SELECT COUNT(*) FROM app.family_sync_queue')) === 0
    }, 150_000)
    console.log(`event threads on app while draining 30,000 entries, sampled every 100 ms: most ${most}, ${samples.length} samples`)
    expect(converged).toBe(true)
    expect(most).toBeGreaterThan(0)
    expect(most).toBeLessThanOrEqual(2)
    expect(await scalar('SELECT COUNT(*) FROM app.users c JOIN app.users p ON p.id = c.parent_id WHERE p.family_id IS NOT NULL AND NOT (c.family_id <=> p.family_id)')).toBe(0)
  }, 180_000)

  it('idle: no write on users, at most one binlog write a minute, check sees the drain running, and sees it stop within 15 s', async () => {
    // The application's own audit trigger, writing a non-transactional table: a per-call
    // "does users take writes" probe would fire it (and log it) every second.
    await app.raw('CREATE TABLE app_log (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT) ENGINE=MyISAM')
    await app.raw('CREATE TRIGGER app_log_users AFTER UPDATE ON users FOR EACH ROW INSERT INTO app_log (user_id) VALUES (NEW.id)')
    // Past the heartbeat the drain writes after work (at the end of the run that did the last of
    // the backlog, up to 10.5 s later): from here on it may write once a minute.
    await new Promise((resolve) => setTimeout(resolve, 12_000))
    // One GTID event starts every transaction in the binary log: MariaDB's Gtid, MySQL's Anonymous_Gtid (GTIDs off).
    const binlogWrites = async () => {
      let n = 0
      const [logs] = (await admin.raw('SHOW BINARY LOGS')) as [Array<{ Log_name: string }>]
      for (const { Log_name } of logs) {
        const [events] = (await admin.raw(`SHOW BINLOG EVENTS IN '${Log_name}'`)) as [Array<{ Event_type: string }>]
        n += events.filter((e) => e.Event_type === 'Gtid' || e.Event_type === 'Anonymous_Gtid').length
      }
      return n
    }
    const before = await binlogWrites()
    await new Promise((resolve) => setTimeout(resolve, 20_000))
    const written = (await binlogWrites()) - before
    expect(await scalar('SELECT COUNT(*) FROM app.app_log')).toBe(0)
    expect(written).toBeLessThanOrEqual(1)

    // Its last record is older than 10 s, so check must see the running drain by its lock.
    const running = await runCli(['check', '--json', '--url', url()])
    expect(running.code, running.stdout).toBe(0)
    expect(JSON.parse(running.stdout).queue).toMatchObject({ drainExpected: true, drainRunning: true })

    await admin.raw('SET GLOBAL event_scheduler = OFF')
    const stopped = Date.now()
    // The run under way stops looking when the scheduler stops; check sees the silence 10 s later.
    const detected = await until(async () => (await runCli(['check', '--url', url()])).code === 1, 30_000)
    const after = (Date.now() - stopped) / 1000
    console.log(`idle 20 s: ${written} binlog writes; a stopped drain detected by check after ${after.toFixed(1)} s`)
    expect(detected).toBe(true)
    expect(after).toBeLessThanOrEqual(15)
    await admin.raw('SET GLOBAL event_scheduler = ON')
    await app.raw('DROP TRIGGER app_log_users')
  }, 90_000)
})
