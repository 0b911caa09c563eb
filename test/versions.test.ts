import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageVersion } from '../src/paths.js'
import { eventRunEnded } from './helpers/install.js'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, rows, type TestDatabase } from './helpers/database.js'
import { insertBugReportPeople } from './helpers/family.js'
import { newerVersion, releasedVersion, type OtherVersion } from './helpers/other-version.js'

// Rolling deploys run two versions at once, and a rollback runs an older one
// after a newer one. This version must never undo what a newer one did.

const THIS = packageVersion()
const NEWER_CHANGE = { sync_children_family_id: (sql: string) => sql.replace('AND NEW.family_id IS NOT NULL', 'AND NOT (NEW.family_id IS NULL)') }
// The last commit of 0.2.0, the previous minor version.
const RELEASE_0_2 = '5141c86'

async function afterChange(db: TestDatabase): Promise<string> {
  const [row] = await rows<{ body: string }>(db.knex, "SELECT ACTION_STATEMENT AS body FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = 'sync_children_family_id'")
  return row.body
}

describe('a newer version beside this one', () => {
  let newer: OtherVersion
  beforeAll(() => {
    newer = newerVersion('99.0.0', NEWER_CHANGE)
  })
  afterAll(() => newer?.remove())

  it("installed by the newer version: this version's migrate up, --dry-run and sql stop before any change naming both versions; verify notes it and passes", async () => {
    const db = await createTestDatabase()
    try {
      await insertBugReportPeople(db.knex)
      const up = await newer.run(['migrate', 'up', '--url', db.url])
      expect(up.code, up.stderr).toBe(0)
      const before = await afterChange(db)
      expect(before).toContain('NOT (NEW.family_id IS NULL)')

      for (const args of [['migrate', 'up'], ['migrate', 'up', '--dry-run'], ['sql'], ['migrate', 'down']]) {
        const result = await runCli([...args, '--url', db.url])
        expect(result.code, args.join(' ')).toBe(2)
        expect(result.stderr, args.join(' ')).toMatch(new RegExp(`stopped before changing anything: .*99\\.0\\.0, newer than this version \\(${THIS.replace(/\./g, '\\.')}\\).*run .* with that version or later`))
        expect(result.stderr.trim().split('\n')).toHaveLength(1)
        expect(result.stdout, args.join(' ')).toBe('')
      }
      expect(await afterChange(db)).toBe(before)

      const verify = await runCli(['verify', '--json', '--url', db.url])
      expect(verify.code, verify.stdout).toBe(0)
      const report = JSON.parse(verify.stdout)
      expect(report.objects.find((o: { name: string }) => o.name === 'sync_children_family_id')).toMatchObject({ state: 'newer', present: true })
      expect(report.notes.join(' ')).toMatch(new RegExp(`trigger sync_children_family_id: installed by family-sync 99\\.0\\.0, a newer version than this one \\(${THIS.replace(/\./g, '\\.')}\\)`))

      const status = JSON.parse((await runCli(['migrate', 'status', '--json', '--url', db.url])).stdout)
      expect(status.objects.find((o: { name: string }) => o.name === 'sync_children_family_id')).toMatchObject({ state: 'newer', version: '99.0.0', pending: false })
      expect(status.migrations.every((m: { version: string }) => m.version === '99.0.0')).toBe(true)
      expect(status.skew.length).toBeGreaterThan(0)
    } finally {
      await db.drop()
    }
  })

  it('installed by this version and upgraded by the newer one: no flip-flop, whichever runs migrate up next', async () => {
    const db = await createTestDatabase()
    try {
      await insertBugReportPeople(db.knex)
      expect((await runCli(['migrate', 'up', '--url', db.url])).code).toBe(0)
      const upgrade = await newer.run(['migrate', 'up', '--url', db.url])
      expect(upgrade.code, upgrade.stderr).toBe(0)
      expect(upgrade.stdout).toContain('installed trigger sync_children_family_id')
      const upgraded = await afterChange(db)

      const older = await runCli(['migrate', 'up', '--url', db.url])
      expect(older.code).toBe(2)
      expect(older.stderr).toMatch(/trigger sync_children_family_id was installed by family-sync 99\.0\.0, newer than this version/)
      expect(await afterChange(db)).toBe(upgraded)
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
      const again = await newer.run(['migrate', 'up', '--url', db.url])
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout, again.stderr).toContain('nothing to migrate')
      expect(await afterChange(db)).toBe(upgraded)
    } finally {
      await db.drop()
    }
  })

  it('a migration this version does not know: migrate up and down stop naming it, status lists it as unknown, nothing is reverted', async () => {
    const db = await createTestDatabase()
    try {
      await insertBugReportPeople(db.knex)
      expect((await runCli(['migrate', 'up', '--url', db.url])).code).toBe(0)
      await db.knex.raw("INSERT INTO family_sync_migrations (name, version) VALUES ('0099_future_step', '99.0.0')")
      const recorded = await rows(db.knex, 'SELECT name FROM family_sync_migrations ORDER BY name')
      for (const command of ['up', 'down']) {
        const result = await runCli(['migrate', command, '--url', db.url])
        expect(result.code, command).toBe(2)
        expect(result.stderr).toMatch(/migration 0099_future_step, recorded by family-sync 99\.0\.0, is unknown to this version/)
      }
      expect(await rows(db.knex, 'SELECT name FROM family_sync_migrations ORDER BY name')).toEqual(recorded)
      const status = await runCli(['migrate', 'status', '--json', '--url', db.url])
      expect(status.code).toBe(0)
      const report = JSON.parse(status.stdout)
      expect(report.unknown).toEqual(['0099_future_step'])
      expect(report.migrations.at(-1)).toEqual({ name: '0099_future_step', state: 'unknown', executedAt: expect.any(String), version: '99.0.0' })
      expect((await runCli(['migrate', 'status', '--url', db.url])).stdout).toMatch(/0099_future_step\s+unknown\s+\S+\s+99\.0\.0/)
    } finally {
      await db.drop()
    }
  })
})

describe('0.2, built from this repository history, beside this version', () => {
  let released: OtherVersion
  beforeAll(() => {
    released = releasedVersion(RELEASE_0_2)
  }, 180_000)
  afterAll(() => released?.remove())

  it("0.2 installs; this version upgrades; 0.2's drain still drains; 0.2's migrate up (a rollback) keeps the sync working; this version upgrades again", async () => {
    expect(released.version).toBe('0.2.0')
    const db = await createTestDatabase()
    try {
      await insertBugReportPeople(db.knex)
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')")
      const follows = async (family: number, drainWith: OtherVersion | null) => {
        // The drain under test must be the one that drains: the event (0.2's has no lock to hold
        // off) is disabled meanwhile, a run of it under way waited for (this version's holds its lock; 0.2's is
        // given its 0.95 s), then enabled again.
        await db.knex.raw('ALTER EVENT family_sync_drain_every_second DISABLE')
        await eventRunEnded(db.knex)
        await new Promise((resolve) => setTimeout(resolve, 1200))
        try {
          await db.knex.raw('UPDATE users SET family_id = ? WHERE id = 2', [family])
          const drained = drainWith ? await drainWith.run(['drain', '--url', db.url]) : await runCli(['drain', '--url', db.url])
          expect(drained.code, drained.stderr).toBe(0)
          expect(drained.stdout).toContain('drained 1 queued parents')
          expect([await familyOf(db.knex, 3), await familyOf(db.knex, 4)]).toEqual([family, family])
        } finally {
          await db.knex.raw('ALTER EVENT family_sync_drain_every_second ENABLE')
        }
      }

      expect((await released.run(['migrate', 'up', '--url', db.url])).code).toBe(0)
      await follows(1, released)

      const upgrade = await runCli(['migrate', 'up', '--url', db.url])
      expect(upgrade.code, upgrade.stderr).toBe(0)
      expect(upgrade.stdout).toContain('migrated 0008_record_owners_and_versions')
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
      // A rolling deploy: the old sidecar's drain calls the new procedure.
      await follows(2, released)
      expect((await released.run(['check', '--url', db.url])).code).toBe(0)

      // A rollback: 0.2 predates the version guard and puts its own objects back; they work with the new tables.
      const rollback = await released.run(['migrate', 'up', '--url', db.url])
      expect(rollback.code, rollback.stderr).toBe(0)
      await follows(3, released)

      const again = await runCli(['migrate', 'up', '--url', db.url])
      expect(again.code, again.stderr).toBe(0)
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
      await follows(4, null)
    } finally {
      await db.drop()
    }
  }, 120_000)
})
