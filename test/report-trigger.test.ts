import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, familyOf, type TestDatabase } from './helpers/database.js'
import { reportTrigger } from './helpers/report-trigger.js'

// The bug report's proposed trigger, verbatim. These tests keep the reason for
// family-sync's design proven: it fails both ways, the NULL comparison and error 1442.
const REPORT_TRIGGER = reportTrigger()

describe("the bug report's trigger", () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await db.knex.raw(REPORT_TRIGGER)
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'Sela'), (2, 'Other')")
    await db.knex.raw("INSERT INTO users (id, username, is_parent) VALUES (2, 'asela', TRUE)")
    await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (3, 'Makoto', 2), (4, 'Eli', 2)")
  })
  afterAll(() => db.drop())

  it('never fires for NULL -> family, the exact case of the bug: NULL != 1 is NULL', async () => {
    await db.knex.raw('UPDATE users SET family_id = 1 WHERE id = 2')
    expect(await familyOf(db.knex, 2)).toBe(1)
    expect(await familyOf(db.knex, 3)).toBeNull()
    expect(await familyOf(db.knex, 4)).toBeNull()
  })

  it("makes the application's own UPDATE fail with error 1442 when a parent moves family", async () => {
    await db.knex.raw('UPDATE users SET family_id = 1 WHERE id IN (3, 4)')
    const failure = await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 2').then(
      () => null,
      (error: { errno?: number; sqlMessage?: string }) => error,
    )
    expect(failure?.errno).toBe(1442)
    expect(failure?.sqlMessage).toMatch(/Can't update table 'users' in stored function\/trigger/)
    expect(await familyOf(db.knex, 2)).toBe(1)
  })
})
