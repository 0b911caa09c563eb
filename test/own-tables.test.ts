import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, rows, type TestDatabase } from './helpers/database.js'
import { drain, holdDrainEvent, install } from './helpers/install.js'

// What an account that may create objects in the application's schema can do
// to family-sync's own tables, and what verify and migrate up make of it.
describe("family-sync's own tables, changed by another account", () => {
  let db: TestDatabase
  let releaseEvent = async () => {}
  const verify = async () => {
    const result = await runCli(['verify', '--json', '--url', db.url])
    return { code: result.code, problems: (JSON.parse(result.stdout) as { problems: string[] }).problems }
  }

  beforeAll(async () => {
    db = await createTestDatabase()
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
    await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (2, 'child', 1, 1), (3, 'child', 1, 1)")
    // As installed for real, the event held off: only the commands under test drain.
    await install(db.knex, { keepEvent: true })
    releaseEvent = await holdDrainEvent(db.name)
  })
  afterAll(async () => {
    await releaseEvent()
    await db?.drop()
  })

  it('starts clean', async () => {
    expect(await verify()).toEqual({ code: 0, problems: [] })
  })

  it('a view in place of the queue: verify names it and what to do; once the table is back, verify is clean', async () => {
    await db.knex.raw('RENAME TABLE family_sync_queue TO family_sync_queue_real')
    await db.knex.raw('CREATE VIEW family_sync_queue AS SELECT * FROM family_sync_queue_real')
    try {
      const report = await verify()
      expect(report.code).toBe(1)
      expect(report.problems.join('\n')).toMatch(/family_sync_queue is a view, not family-sync's table: .*DROP VIEW `family_sync_queue`; RENAME TABLE <where it went> TO `family_sync_queue`/)
      // migrate up cannot know where the table went: it refuses nothing, but the view stays a problem.
    } finally {
      await db.knex.raw('DROP VIEW family_sync_queue')
      await db.knex.raw('RENAME TABLE family_sync_queue_real TO family_sync_queue')
    }
    expect(await verify()).toEqual({ code: 0, problems: [] })
  })

  it("another account's trigger on the queue: verify names it, migrate up drops it, and the sync works again", async () => {
    // It turns every queued parent into a parent that does not exist: the sync stops, silently.
    await db.knex.raw('CREATE TRIGGER not_ours BEFORE INSERT ON family_sync_queue FOR EACH ROW SET NEW.parent_id = -NEW.parent_id')
    const report = await verify()
    expect(report.code).toBe(1)
    expect(report.problems.join('\n')).toMatch(/trigger not_ours \(BEFORE INSERT on family_sync_queue\) is not family-sync's: .*run family-sync migrate up, which drops it/)
    const dry = await runCli(['migrate', 'up', '--dry-run', '--url', db.url])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('DROP TRIGGER IF EXISTS `not_ours`;')
    const up = await runCli(['migrate', 'up', '--url', db.url])
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout + up.stderr).toMatch(/dropped trigger not_ours/)
    expect(await rows(db.knex, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = 'not_ours'")).toEqual([])
    expect(await verify()).toEqual({ code: 0, problems: [] })
    await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 1')
    expect(await rows(db.knex, 'SELECT parent_id FROM family_sync_queue')).toEqual([{ parent_id: 1 }])
    expect(await drain(db.knex)).toBe(1)
    expect([await familyOf(db.knex, 2), await familyOf(db.knex, 3)]).toEqual([2, 2])
  })

  it('queue ids nearly used up: verify says how many are left, migrate up queues the entries again with low ids, nothing is lost', async () => {
    await db.knex.raw('ALTER TABLE family_sync_queue AUTO_INCREMENT = 18446744073709550000')
    await db.knex.raw('UPDATE users SET family_id = 1 WHERE id = 1')
    const [high] = await rows<{ id: string }>(db.knex, 'SELECT CAST(id AS CHAR) AS id FROM family_sync_queue')
    expect(BigInt(high.id)).toBeGreaterThanOrEqual(18446744073709550000n)
    const report = await verify()
    expect(report.code).toBe(1)
    expect(report.problems.join('\n')).toMatch(/family_sync_queue has 1615 ids left \(its next id is 18446744073709550001\): .*error 1467.*run family-sync migrate up/)
    const up = await runCli(['migrate', 'up', '--url', db.url])
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout + up.stderr).toMatch(/queued 1 entries again with low ids/)
    const [moved] = await rows<{ id: string; parent_id: number; family_id: number }>(db.knex, 'SELECT CAST(id AS CHAR) AS id, parent_id, family_id FROM family_sync_queue')
    expect(BigInt(moved.id)).toBeLessThan(2n ** 32n)
    expect({ parent: moved.parent_id, family: moved.family_id }).toEqual({ parent: 1, family: 1 })
    expect(await verify()).toEqual({ code: 0, problems: [] })
    expect(await drain(db.knex)).toBe(1)
    expect([await familyOf(db.knex, 2), await familyOf(db.knex, 3)]).toEqual([1, 1])
  })
})
