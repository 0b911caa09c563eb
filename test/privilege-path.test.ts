import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { packageRoot } from '../src/paths.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import type { ExtraServer } from './helpers/servers.js'
import { startSuiteServer } from './helpers/suite-build.js'
import { until } from './helpers/wait.js'
import { describeWithOwnServers } from './helpers/requires.js'

// The README's recipe for a definer account, read from the README: the test
// fails if the recipe stops being enough, or the two part ways.
const DEFINER_RECIPE = (() => {
  const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('### A definer account of its own'))
  const block = /```sql\n([\s\S]*?)```/.exec(section)
  if (!block) throw new Error('README: the definer account recipe is missing')
  return block[1].split('\n').filter((line) => /^(CREATE USER|GRANT)/.test(line))
})()

// An account with every privilege on the application's database and none
// beyond it, as the application's own or a compromised deploy account might
// be. It must not gain anything through family-sync's objects, which run as
// a more privileged definer.
const EVENT_LOCK = "CONCAT('family_sync_drain:', LEFT(SHA2(DATABASE(), 256), 40))"

describeWithOwnServers()('no privilege path through family-sync objects', () => {
  let server: ExtraServer
  let root: Knex
  let app: Knex
  const url = (user = 'root', password = '') => `mysql://${user}${password ? ':' + password : ''}@127.0.0.1:${server.port}/app`

  async function globalGrants(user: string): Promise<string[]> {
    const [rows] = (await root.raw("SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE LIKE CONCAT('''', ?, '''@%')", [user])) as [Array<{ p: string }>]
    return rows.map((r) => r.p).filter((p) => p !== 'USAGE')
  }

  async function childFollows(child: number, family: number): Promise<boolean> {
    return until(async () => {
      const [[row]] = (await app.raw('SELECT family_id FROM users WHERE id = ?', [child])) as [[{ family_id: number }]]
      return row.family_id === family
    }, 15_000)
  }

  beforeAll(async () => {
    server = await startSuiteServer({ args: ['--event-scheduler=ON'] })
    root = knexFactory({ client: 'mysql2', connection: server.url, pool: { min: 0, max: 2 } })
    await root.raw('CREATE DATABASE app')
    app = knexFactory({ client: 'mysql2', connection: url(), pool: { min: 0, max: 2 } })
    for (const ddl of APP_SCHEMA) await app.raw(ddl)
    await app.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    await app.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
    await app.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1)")
    for (const statement of DEFINER_RECIPE) await root.raw(statement.replace('`chores`', '`app`'))
    await root.raw("CREATE USER 'intruder'@'%' IDENTIFIED BY 'Intruder-pw-1'")
    await root.raw("GRANT ALL ON `app`.* TO 'intruder'@'%'")
  }, 120_000)
  afterAll(async () => {
    await app?.destroy()
    await root?.destroy()
    await server?.remove()
  })

  it("installs every object for the README's definer account, which holds only its recipe's grants, and the sync works through it", async () => {
    expect(DEFINER_RECIPE.length).toBeGreaterThanOrEqual(2)
    const up = await runCli(['migrate', 'up', '--definer', 'family_sync_definer@localhost', '--url', url()])
    expect(up.code, up.stderr).toBe(0)
    const [owners] = (await app.raw(
      `SELECT DEFINER AS d FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app'
       UNION ALL SELECT DEFINER FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'app'
       UNION ALL SELECT DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'app'`,
    )) as [Array<{ d: string }>]
    expect(new Set(owners.map((o) => o.d))).toEqual(new Set(['family_sync_definer@localhost']))
    // A new child inherits in the same statement (the triggers run as the definer), and children
    // follow a parent's new family through the event (the drain runs as the definer).
    await app.raw("INSERT INTO users (id, username, parent_id) VALUES (3, 'second child', 1)")
    const [[inherited]] = (await app.raw('SELECT family_id FROM users WHERE id = 3')) as [[{ family_id: number }]]
    expect(inherited.family_id).toBe(1)
    await app.raw('UPDATE users SET family_id = 2 WHERE id = 1')
    expect(await childFollows(2, 2)).toBe(true)
    expect((await runCli(['verify', '--url', url()])).code).toBe(0)
    // Later runs keep the owner without being told again.
    expect((await runCli(['migrate', 'up', '--url', url()])).stdout).toContain('nothing to migrate')
  })

  it('a replaced drain procedure is never run by the event: not even what the definer may do runs; no global privilege is gained; verify names the account; migrate up takes it back', async () => {
    const intruder = knexFactory({ client: 'mysql2', connection: url('intruder', 'Intruder-pw-1'), pool: { min: 0, max: 1 } })
    try {
      // What the replacement does first is something the event's definer may do (a row in
      // the application's schema), so that a run of it shows whatever the definer's rights.
      await intruder.raw('CREATE TABLE ran_as (who VARCHAR(300) NOT NULL)')
      // No run of the event is under way while the procedure is swapped (the test holds the
      // event's lock); the run waiting for the lock then meets the replacement at once.
      const holder = knexFactory({ client: 'mysql2', connection: url(), pool: { min: 1, max: 1 } })
      await holder.raw(`SELECT GET_LOCK(${EVENT_LOCK}, 30)`)
      await intruder.raw('DROP PROCEDURE family_sync_drain')
      await intruder.raw(`CREATE PROCEDURE family_sync_drain(IN max_entries INT, IN poll_seconds DECIMAL(6,3), OUT applied INT) SQL SECURITY INVOKER
        BEGIN
          DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
          INSERT INTO ran_as (who) VALUES (CURRENT_USER());
          CREATE USER IF NOT EXISTS 'escalated'@'%' IDENTIFIED BY 'Escalated-pw-1';
          GRANT ALL ON *.* TO 'escalated'@'%' WITH GRANT OPTION;
          GRANT ALL ON *.* TO 'intruder'@'%' WITH GRANT OPTION;
          SET applied = 0;
        END`)
      const [[{ swapped }]] = (await root.raw('SELECT NOW() AS swapped')) as [[{ swapped: Date }]]
      await holder.destroy()
      // A run of the event that started after the swap (LAST_EXECUTED has whole seconds), and is over.
      {
        const after = new Date(swapped.getTime() + 1000)
        const started = await until(async () => {
          const [[{ at }]] = (await root.raw("SELECT MAX(LAST_EXECUTED) AS at FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'app'")) as [[{ at: Date | null }]]
          return at !== null && at >= after
        }, 30_000)
        expect(started, 'the event ran after the swap').toBe(true)
        const ended = knexFactory({ client: 'mysql2', connection: url(), pool: { min: 1, max: 1 } })
        await ended.raw(`SELECT GET_LOCK(${EVENT_LOCK}, 30), RELEASE_LOCK(${EVENT_LOCK})`)
        await ended.destroy()
      }
      expect(await app.raw('SELECT who FROM ran_as').then(([rows]: [unknown[]]) => rows)).toEqual([])
      const [[escalated]] = (await root.raw("SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'escalated'")) as [[{ n: number }]]
      expect(Number(escalated.n)).toBe(0)
      expect(await globalGrants('intruder')).toEqual([])

      const verify = await runCli(['verify', '--json', '--url', url()])
      expect(verify.code).toBe(1)
      const report = JSON.parse(verify.stdout)
      expect(report.objects.find((o: { name: string }) => o.name === 'family_sync_drain')).toMatchObject({ state: 'owner-changed', definer: 'intruder@%' })
      expect(report.problems.join(' ')).toMatch(/procedure family_sync_drain runs with SQL SECURITY INVOKER.*belongs to intruder@%, but migrate up installed it for family_sync_definer@localhost.*run family-sync migrate up/)

      const up = await runCli(['migrate', 'up', '--url', url()])
      expect(up.code, up.stderr).toBe(0)
      expect((await runCli(['verify', '--url', url()])).code).toBe(0)
      const [[owner]] = (await app.raw("SELECT DEFINER AS d, SECURITY_TYPE AS s FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'app' AND ROUTINE_NAME = 'family_sync_drain'")) as [[{ d: string; s: string }]]
      expect(owner).toEqual({ d: 'family_sync_definer@localhost', s: 'DEFINER' })
      await app.raw('UPDATE users SET family_id = 3 WHERE id = 1')
      expect(await childFollows(2, 3)).toBe(true)
    } finally {
      await app.raw('DROP TABLE IF EXISTS ran_as')
      await intruder.destroy()
    }
  })

  it('an event altered by the same account runs as that account, not the definer: verify names it; migrate up takes it back', async () => {
    const intruder = knexFactory({ client: 'mysql2', connection: url('intruder', 'Intruder-pw-1'), pool: { min: 0, max: 1 } })
    try {
      // The body records whom it runs as, then tries for more: the record shows which rights it had.
      await intruder.raw('CREATE TABLE ran_as (who VARCHAR(300) NOT NULL)')
      await intruder.raw(`ALTER EVENT family_sync_drain_every_second DO BEGIN
          DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
          INSERT INTO ran_as (who) VALUES (CURRENT_USER());
          GRANT ALL ON *.* TO 'intruder'@'%';
        END`)
      const ran = await until(async () => ((await app.raw('SELECT who FROM ran_as')) as [unknown[]])[0].length > 0, 30_000)
      expect(ran).toBe(true)
      expect(await app.raw('SELECT DISTINCT who FROM ran_as').then(([rows]: [unknown[]]) => rows)).toEqual([{ who: 'intruder@%' }])
      expect(await globalGrants('intruder')).toEqual([])
      await app.raw('DROP TABLE ran_as')
      const verify = await runCli(['verify', '--url', url()])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toMatch(/problem: event family_sync_drain_every_second belongs to intruder@%, but migrate up installed it for family_sync_definer@localhost/)
      expect((await runCli(['migrate', 'up', '--url', url()])).code).toBe(0)
      expect((await runCli(['verify', '--url', url()])).code).toBe(0)
      await app.raw('UPDATE users SET family_id = 1 WHERE id = 1')
      expect(await childFollows(2, 1)).toBe(true)
    } finally {
      await intruder.destroy()
    }
  })
})
