import { describe, expect, it } from 'vitest'
import { checkConsistency, drainSyncQueue } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, rows, serverKnex, type TestDatabase } from './helpers/database.js'
import { drain, eventRunEnded, install } from './helpers/install.js'

async function entries(db: TestDatabase) {
  return rows<{ parent_id: number; attempts: number; parked: number; last_error: string | null; resume_from_child: number | null }>(
    db.knex,
    'SELECT parent_id, attempts, parked_at IS NOT NULL AS parked, last_error, resume_from_child FROM family_sync_queue ORDER BY id',
  )
}

describe('liveness', () => {
  it('a disabled event: verify names it, check fails once no drain ran for the limit, migrate up enables it for the account it was installed for', async () => {
    const db = await createTestDatabase()
    try {
      await install(db.knex, { keepEvent: true })
      const [installed] = await rows<{ definer: string }>(db.knex, "SELECT DEFINER AS definer FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()")
      await db.knex.raw('ALTER EVENT family_sync_drain_every_second DISABLE')
      // With the scheduler ON a run may be under way: it finishes, and none follows.
      await eventRunEnded(db.knex)
      await drain(db.knex)
      // LAST_ALTERED has whole seconds: wait past the next one.
      await new Promise((resolve) => setTimeout(resolve, 2500))
      const report = await checkConsistency(db.knex, { drainStaleSeconds: 1 })
      expect(report.ok).toBe(false)
      expect(report.queue).toMatchObject({ drainExpected: true, drainRunning: false })
      expect(report.problems.join(' ')).toMatch(/no drain has run for \d+\.\d s/)
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

describe('an idle drain', () => {
  it('looks at the queue ten times a second for as long as it was asked to wait, and no longer', async () => {
    const db = await createTestDatabase()
    const caller = serverKnex(db.name, { min: 0, max: 1 })
    try {
      await install(db.knex)
      // Every idle poll ends in one DO SLEEP (Com_do); what a poll costs is counted, not timed.
      const polls = async () => Number((await rows<{ Value: string }>(caller, "SHOW SESSION STATUS LIKE 'Com_do'"))[0].Value)
      const before = await polls()
      const started = performance.now()
      await caller.raw('CALL family_sync_drain(10, 1.0, @applied)')
      const seconds = (performance.now() - started) / 1000
      const count = (await polls()) - before
      console.log(`idle drain asked to wait 1.0 s: ${count} polls in ${seconds.toFixed(2)} s`)
      // Ten polls in one second's wait: far fewer would leave a change waiting
      // up to a second; the same ten spread over many seconds would hold a
      // connection and a scheduler run that long. Three a second is a
      // third of the rate, which a loaded machine's sleeps do not reach.
      expect(count).toBe(10)
      expect(count / seconds).toBeGreaterThan(3)
    } finally {
      await caller.destroy()
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
      // MariaDB: 4025 CONSTRAINT ... failed; MySQL: 3819 Check constraint ... is violated.
      expect(entry.last_error).toMatch(/^error (4025: CONSTRAINT `not_yet` failed|3819: Check constraint 'not_yet' is violated)/)
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
