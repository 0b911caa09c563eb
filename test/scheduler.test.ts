import parsePrometheus from 'parse-prometheus-text-format'
import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA, familyOf, rows } from './helpers/database.js'
import { eventRunEnded, install, ourObjects } from './helpers/install.js'
import { describeWithOwnServers } from './helpers/requires.js'
import type { ExtraServer } from './helpers/servers.js'
import { startSuiteServer } from './helpers/suite-build.js'
import { STORED_OBJECTS } from '../src/db/catalogue.js'

// What depends on the event scheduler's global state runs on a server of
// its own, scheduler ON as MySQL ships it, so that turning it off or on here
// never drains, or stops draining, another test file's queue.
interface OwnDatabase {
  url: string
  knex: Knex
  drop(): Promise<void>
}

async function entries(db: OwnDatabase) {
  return rows<{ parent_id: number; attempts: number; parked: number; last_error: string | null; resume_from_child: number | null }>(
    db.knex,
    'SELECT parent_id, attempts, parked_at IS NOT NULL AS parked, last_error, resume_from_child FROM family_sync_queue ORDER BY id',
  )
}

let server: ExtraServer
let admin: Knex

async function database(name: string): Promise<OwnDatabase> {
  await admin.raw(`CREATE DATABASE ${name}`)
  const knex = knexFactory({ client: 'mysql2', connection: `${server.url}/${name}`, pool: { min: 0, max: 4 } })
  for (const ddl of APP_SCHEMA) await knex.raw(ddl)
  return {
    url: `${server.url}/${name}`,
    knex,
    async drop() {
      await knex.destroy()
      await admin.raw(`DROP DATABASE IF EXISTS ${name}`)
    },
  }
}

describeWithOwnServers()('with the event scheduler ON', () => {
  beforeAll(async () => {
    server = await startSuiteServer({ args: ['--event-scheduler=ON'] })
    admin = knexFactory({ client: 'mysql2', connection: server.url, pool: { min: 0, max: 2 } })
  }, 120_000)
  afterAll(async () => {
    await admin?.destroy()
    await server?.remove()
  })

  it('children and grandchildren reach the new family within 2 seconds with no drain call', async () => {
    const other = await database('conv')
    try {
      await install(other.knex, { keepEvent: true })
      await other.knex.raw("INSERT INTO families (id, name) VALUES (1, 'old'), (2, 'new')")
      await other.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
      await other.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1), (3, 'grandchild', 2)")
      const started = Date.now()
      await other.knex.raw('UPDATE users SET family_id = 2 WHERE id = 1')
      let converged = -1
      while (Date.now() - started < 5000) {
        if ((await familyOf(other.knex, 2)) === 2 && (await familyOf(other.knex, 3)) === 2) {
          converged = Date.now() - started
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(converged).toBeGreaterThanOrEqual(0)
      expect(converged).toBeLessThanOrEqual(2000)
    } finally {
      await other.drop()
    }
  })

  it('with the scheduler off and work queued, check fails once the work and the last drain are 10 s old', async () => {
    const db = await database('liveness')
    await admin.raw('SET GLOBAL event_scheduler = OFF')
    try {
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
      await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1)")
      expect((await runCli(['migrate', 'up', '--url', db.url])).code).toBe(0)
      await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 1')
      expect((await runCli(['check', '--url', db.url])).code).toBe(0)
      await new Promise((resolve) => setTimeout(resolve, 10_500))
      const check = await runCli(['check', '--json', '--url', db.url])
      expect(check.code).toBe(1)
      const report = JSON.parse(check.stdout)
      expect(report.queue).toMatchObject({ pending: 1, lastDrainAgeSeconds: null, drainExpected: true })
      expect(report.problems.join(' ')).toMatch(/queued work has waited 1\d\.\d s .*no drain has run for/)
      expect((await runCli(['drain', '--url', db.url])).code).toBe(0)
      // A drain has just run and nothing waits: healthy again, until the drain stays away 10 s.
      expect((await runCli(['check', '--url', db.url])).code).toBe(0)
    } finally {
      await admin.raw('SET GLOBAL event_scheduler = ON')
      await db.drop()
    }
  }, 60_000)

  describe('a queue entry the application refuses', () => {
    let db: OwnDatabase
    beforeAll(async () => {
      db = await database('refuses')
      // The application's own rule: a display name is unique within a family.
      await db.knex.raw('ALTER TABLE users ADD UNIQUE KEY users_family_username (family_id, username)')
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'Sam', 1), (10, 'P', 2), (20, 'Q', 3)")
      await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (11, 'Sam', 10), (21, 'Kim', 20)")
      await install(db.knex, { keepEvent: true })
    })
    afterAll(async () => {
      await admin.raw('SET GLOBAL event_scheduler = ON')
      await db?.drop()
    })

    it('is retried and parked, and never holds up another parent: that one converges within 2 s with the event on', async () => {
      await admin.raw('SET GLOBAL event_scheduler = ON')
      // P joins family 1, where a Sam already is: moving P's Sam there breaks the unique key.
      await db.knex.raw('UPDATE users SET family_id = 1 WHERE id = 10')
      const started = Date.now()
      await db.knex.raw('UPDATE users SET family_id = 4 WHERE id = 20')
      let converged = -1
      while (Date.now() - started < 5000) {
        if ((await familyOf(db.knex, 21)) === 4) {
          converged = Date.now() - started
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(converged).toBeGreaterThanOrEqual(0)
      expect(converged).toBeLessThanOrEqual(2000)
      // Skip the backoff pauses (1, 2, 4, 8 s) and let the event retry at once, until the entry is parked.
      const deadline = Date.now() + 30_000
      while (!(await entries(db)).every((e) => e.parked) && Date.now() < deadline) {
        await db.knex.raw('UPDATE family_sync_queue SET retry_at = NULL WHERE parked_at IS NULL')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const [entry] = await entries(db)
      expect(entry).toMatchObject({ parent_id: 10, attempts: 5, parked: 1 })
      expect(entry.last_error).toMatch(/^error 1062: Duplicate entry '1-Sam'/)
      expect(await familyOf(db.knex, 11)).toBe(2)
      // From here on only the commands under test drain: the run under way ends, none follows.
      await admin.raw('SET GLOBAL event_scheduler = OFF')
      await eventRunEnded(db.knex)
    }, 60_000)

    it('check exits 1 at once naming it and its error, in every output', async () => {
      // drain exits 1 while parked entries remain
      const drained = await runCli(['drain', '--url', db.url])
      expect(drained.code, drained.stdout).toBe(1)
      const human = await runCli(['check', '--url', db.url])
      expect(human.code).toBe(1)
      expect(human.stdout).toMatch(/parked entry \d+ \(parent 10\) after 5 attempts: error 1062: Duplicate entry '1-Sam'/)
      expect(human.stdout).toMatch(/problem: 1 queue entry is parked .*family-sync drain --retry-parked/)
      const json = await runCli(['check', '--json', '--url', db.url])
      expect(json.code).toBe(1)
      const report = JSON.parse(json.stdout)
      expect(report.queue.parked).toEqual([expect.objectContaining({ parentId: 10, attempts: 5, lastError: expect.stringContaining('Duplicate entry') })])
      expect(report.queue.pending).toBe(0)
      const prom = await runCli(['check', '--prometheus', '--url', db.url])
      expect(prom.code).toBe(1)
      const metrics = parsePrometheus(prom.stdout) as Array<{ name: string; metrics: Array<{ value: string }> }>
      expect(metrics.find((m) => m.name === 'family_sync_queue_parked')?.metrics[0].value).toBe('1')
    })

    it('migrate down stops before removing anything and says why', async () => {
      const down = await runCli(['migrate', 'down', '--to', '0', '--url', db.url])
      expect(down.code).toBe(2)
      expect(down.stderr).toMatch(/migrate down stopped before removing anything: 1 queue entry fails to apply .*parent 10, parked: error 1062.*drain --retry-parked/)
      // Every table, trigger, routine and event is still there.
      expect((await ourObjects(db.knex)).length).toBe(STORED_OBJECTS.length + 6)
    })

    it('drain --retry-parked tries it again once the cause is fixed', async () => {
      const still = await runCli(['drain', '--retry-parked', '--url', db.url])
      expect(still.stdout).toContain('put 1 parked entries back in line')
      expect(still.stdout).toMatch(/1 entries failed and will be retried/)
      await db.knex.raw("UPDATE users SET username = 'Sam Sr' WHERE id = 1")
      const fixed = await runCli(['drain', '--retry-parked', '--url', db.url])
      expect(fixed.code, fixed.stdout).toBe(0)
      expect(fixed.stdout).toContain('drained 1 queued parents')
      expect(await familyOf(db.knex, 11)).toBe(1)
      expect((await runCli(['check', '--url', db.url])).code).toBe(0)
    })
  })
})
