import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, rows, type TestDatabase } from './helpers/database.js'
import { createFamily, insertBugReportPeople } from './helpers/family.js'

// The bug report's "Reproduction Steps", then `family-sync migrate up`.
describe('the bug report, end to end through the CLI', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(() => db.drop())

  it('migrate up turns the buggy state into the expected one, with two audit rows', async () => {
    // Steps 1-4: a parent, two children by parent_id, then the buggy family creation.
    await insertBugReportPeople(db.knex)
    await createFamily(db.knex, 2, 'Sela', 1)
    // Step 5-6: the family-based query finds no children.
    const lost = await rows(db.knex, 'SELECT id FROM users WHERE family_id = 1 AND is_parent = FALSE')
    expect(lost).toEqual([])
    const check = await runCli(['check', '--json', '--url', db.url])
    expect(check.code).toBe(1)
    expect(JSON.parse(check.stdout).mismatches.map((m: { childUsername: string }) => m.childUsername)).toEqual(['Makoto', 'Eli'])

    const up = await runCli(['migrate', 'up', '--url', db.url])
    expect(up.code, up.stderr).toBe(0)

    // The report's "After Family Creation", fixed.
    expect(await rows(db.knex, 'SELECT id, username, parent_id, family_id FROM users ORDER BY id')).toEqual([
      { id: 2, username: 'asela', parent_id: null, family_id: 1 },
      { id: 3, username: 'Makoto', parent_id: 2, family_id: 1 },
      { id: 4, username: 'Eli', parent_id: 2, family_id: 1 },
    ])
    expect(await rows(db.knex, 'SELECT id FROM users WHERE family_id = 1 AND is_parent = FALSE ORDER BY id')).toEqual([{ id: 3 }, { id: 4 }])
    expect(await rows(db.knex, 'SELECT user_id, old_family_id, new_family_id, reason FROM family_sync_audit ORDER BY user_id')).toEqual([
      { user_id: 3, old_family_id: null, new_family_id: 1, reason: 'backfill' },
      { user_id: 4, old_family_id: null, new_family_id: 1, reason: 'backfill' },
    ])
    expect((await runCli(['check', '--url', db.url])).code).toBe(0)
  })
})
