import parsePrometheus from 'parse-prometheus-text-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkConsistency, drainSyncQueue } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, rows, serverKnex, type TestDatabase } from './helpers/database.js'
import { drain, install, ourObjects } from './helpers/install.js'
import { STORED_OBJECTS } from '../src/db/catalogue.js'

async function entries(db: TestDatabase) {
  return rows<{ parent_id: number; attempts: number; parked: number; last_error: string | null; resume_from_child: number | null }>(
    db.knex,
    'SELECT parent_id, attempts, parked_at IS NOT NULL AS parked, last_error, resume_from_child FROM family_sync_queue ORDER BY id',
  )
}

describe('a queue entry the application refuses', () => {
  let db: TestDatabase
  const admin = serverKnex()
  let scheduler = 'OFF'
  beforeAll(async () => {
    db = await createTestDatabase()
    // The application's own rule: a display name is unique within a family.
    await db.knex.raw('ALTER TABLE users ADD UNIQUE KEY users_family_username (family_id, username)')
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')")
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'Sam', 1), (10, 'P', 2), (20, 'Q', 3)")
    await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (11, 'Sam', 10), (21, 'Kim', 20)")
    await install(db.knex, { keepEvent: true })
    const [[{ state }]] = (await admin.raw('SELECT @@global.event_scheduler AS state')) as [[{ state: string }]]
    scheduler = state
  })
  afterAll(async () => {
    await admin.raw(`SET GLOBAL event_scheduler = ${scheduler === 'ON' ? 'ON' : 'OFF'}`)
    await admin.destroy()
    await db.drop()
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
    await admin.raw('SET GLOBAL event_scheduler = OFF')
  }, 60_000)

  it('check exits 1 at once naming it and its error, in every output', async () => {
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

describe('liveness', () => {
  it('with the scheduler off and work queued, check fails once the work and the last drain are 10 s old', async () => {
    const db = await createTestDatabase()
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
      await db.drop()
    }
  }, 60_000)

  it('a disabled event: verify names it, check fails once no drain ran for the limit, migrate up enables it for the account it was installed for', async () => {
    const db = await createTestDatabase()
    try {
      await install(db.knex, { keepEvent: true })
      const [installed] = await rows<{ definer: string }>(db.knex, "SELECT DEFINER AS definer FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()")
      await db.knex.raw('ALTER EVENT family_sync_drain_every_second DISABLE')
      await drain(db.knex)
      // LAST_ALTERED has whole seconds: wait past the next one.
      await new Promise((resolve) => setTimeout(resolve, 2500))
      const report = await checkConsistency(db.knex, { drainStaleSeconds: 1 })
      expect(report.ok).toBe(false)
      expect(report.queue).toMatchObject({ drainExpected: true, drainRunning: false })
      expect(report.problems.join(' ')).toMatch(/no drain has run for [12]\.\d s/)
      const verify = await runCli(['verify', '--url', db.url])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toMatch(/problem: event family_sync_drain_every_second is DISABLED: the drain does not run: run family-sync migrate up, which enables it for its owner/)
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain('enabled event family_sync_drain_every_second')
      const [event] = await rows<{ status: string; definer: string }>(db.knex, "SELECT STATUS AS status, DEFINER AS definer FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()")
      expect(event).toEqual({ status: 'ENABLED', definer: installed.definer })
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
    } finally {
      await db.drop()
    }
  })
})

describe('a big family', () => {
  it('is applied a thousand children per transaction: a failure in the second chunk keeps the first, and the retry resumes', async () => {
    const db = await createTestDatabase()
    try {
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'big parent', 1)")
      const kids = Array.from({ length: 2500 }, (_, i) => [100 + i + 1, `kid ${i + 1}`, 1, 1])
      await db.knex.raw(`INSERT INTO users (id, username, parent_id, family_id) VALUES ${kids.map(() => '(?, ?, ?, ?)').join(', ')}`, kids.flat())
      await install(db.knex)
      // The 1,500th child may not join family 2, for now.
      await db.knex.raw("ALTER TABLE users ADD CONSTRAINT not_yet CHECK (username <> 'kid 1500' OR family_id <> 2)")
      await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 1')
      const first = await drainSyncQueue(db.knex)
      expect(first).toMatchObject({ applied: 0, retrying: 1 })
      const [entry] = await entries(db)
      expect(entry).toMatchObject({ attempts: 1, resume_from_child: 1101 })
      expect(entry.last_error).toMatch(/^error 4025: CONSTRAINT `not_yet` failed/)
      const [[{ moved }]] = (await db.knex.raw('SELECT COUNT(*) AS moved FROM users WHERE parent_id = 1 AND family_id = 2')) as [[{ moved: number }]]
      expect(Number(moved)).toBe(1000)

      await db.knex.raw('ALTER TABLE users DROP CONSTRAINT not_yet')
      await db.knex.raw('UPDATE family_sync_queue SET retry_at = NULL')
      expect((await drainSyncQueue(db.knex)).applied).toBe(1)
      const [[{ behind }]] = (await db.knex.raw('SELECT COUNT(*) AS behind FROM users WHERE parent_id = 1 AND family_id <> 2')) as [[{ behind: number }]]
      expect(Number(behind)).toBe(0)
      const audit = await rows<{ n: number; users: number }>(db.knex, "SELECT COUNT(*) AS n, COUNT(DISTINCT user_id) AS users FROM family_sync_audit WHERE reason = 'drain'")
      expect(audit).toEqual([{ n: 2500, users: 2500 }])
      expect((await checkConsistency(db.knex)).mismatchCount).toBe(0)
    } finally {
      await db.drop()
    }
  }, 60_000)
})
