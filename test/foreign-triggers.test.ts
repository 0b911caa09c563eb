import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, rows, type TestDatabase } from './helpers/database.js'
import { createFamily, insertBugReportPeople, mismatchCount } from './helpers/family.js'
import { reportTrigger } from './helpers/report-trigger.js'

async function triggerNames(db: TestDatabase): Promise<string[]> {
  return (await rows<{ name: string }>(db.knex, "SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME")).map((r) => r.name)
}

describe("the bug report's trigger, left installed", () => {
  it('under its own name (sync_children_family_id) it is replaced by ours, and parents can change family', async () => {
    const db = await createTestDatabase()
    try {
      await insertBugReportPeople(db.knex)
      await db.knex.raw(reportTrigger('sync_children_family_id'))
      await createFamily(db.knex, 2, 'Sela', 1)
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.code, up.stderr).toBe(0)
      expect(await mismatchCount(db.knex)).toBe(0)
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
      // The update that failed with 1442 under the report's trigger.
      await db.knex.raw("INSERT INTO families (id, name) VALUES (2, 'Other')")
      await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 2')
      expect(await familyOf(db.knex, 2)).toBe(2)
    } finally {
      await db.drop()
    }
  })

  describe('under another name', () => {
    let db: TestDatabase
    beforeAll(async () => {
      db = await createTestDatabase()
      await insertBugReportPeople(db.knex)
      await createFamily(db.knex, 2, 'Sela', 1)
      await db.knex.raw(reportTrigger('propagate_family'))
      await db.knex.raw("CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW SET NEW.email = LOWER(NEW.email)")
    })
    afterAll(() => db.drop())

    it('migrate up refuses before changing anything, naming it and the DROP TRIGGER to run', async () => {
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.code).toBe(2)
      const lines = up.stderr.trim().split('\n')
      expect(lines.at(-1)).toMatch(/trigger propagate_family on users is not family-sync's and writes users.*1442.*--drop-foreign-trigger propagate_family.*DROP TRIGGER IF EXISTS `propagate_family`/)
      expect(lines.at(-1)).not.toMatch(/users_touch/)
      expect(await triggerNames(db)).toEqual(['propagate_family', 'users_touch'])
    })

    it('with --drop-foreign-trigger it is dropped in the install; the other foreign trigger is listed and kept', async () => {
      const up = await runCli(['migrate', 'up', '--drop-foreign-trigger', 'propagate_family', '--url', db.url])
      expect(up.code, up.stderr).toBe(0)
      expect(up.stderr).toMatch(/trigger users_touch \(BEFORE UPDATE on users\) is not family-sync's; it is left as it is/)
      expect(await triggerNames(db)).toEqual(['inherit_parent_family_id_on_insert', 'inherit_parent_family_id_on_update', 'sync_children_family_id', 'sync_children_family_id_on_insert', 'users_touch'])
      const verify = JSON.parse((await runCli(['verify', '--json', '--url', db.url])).stdout)
      expect(verify.ok).toBe(true)
      expect(verify.foreignTriggers).toEqual([{ name: 'users_touch', timing: 'BEFORE', event: 'UPDATE', writesUsers: false }])
      expect(verify.notes.join(' ')).toMatch(/users_touch/)
    })

    it('added back later: verify exits 1 naming the command that fixes it, and that command works', async () => {
      await db.knex.raw(reportTrigger('propagate_family'))
      const verify = await runCli(['verify', '--url', db.url])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toMatch(/problem: trigger propagate_family on users is not family-sync's and writes users.*run family-sync migrate up --drop-foreign-trigger propagate_family/)
      expect((await runCli(['migrate', 'up', '--url', db.url])).code).toBe(2)
      const fix = await runCli(['migrate', 'up', '--drop-foreign-trigger', 'propagate_family', '--url', db.url])
      expect(fix.code, fix.stderr).toBe(0)
      expect(fix.stdout).toContain('dropped trigger propagate_family')
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
    })

    it('a name that is not a foreign trigger on users is refused', async () => {
      for (const name of ['no_such_trigger', 'sync_children_family_id']) {
        const up = await runCli(['migrate', 'up', '--drop-foreign-trigger', name, '--url', db.url])
        expect(up.code).toBe(2)
        expect(up.stderr).toContain(`--drop-foreign-trigger ${name}: there is no such trigger on users other than family-sync's own`)
      }
    })
  })
})
