import { describe, expect, it } from 'vitest'
import { catalogueWith } from './helpers/catalogue.js'
import { runCli } from './helpers/cli.js'
import { runInClient } from './helpers/client.js'
import { createTestDatabase, isMySql, rows } from './helpers/database.js'
import { createFamily, insertBugReportPeople, mismatchCount } from './helpers/family.js'
import { install, ourObjects } from './helpers/install.js'

describe('migrate up --dry-run', () => {
  it('prints a script the client runs as it stands (notes as comments), changing nothing; run, it leaves migrate up nothing to do', async () => {
    const db = await createTestDatabase()
    try {
      await insertBugReportPeople(db.knex)
      await createFamily(db.knex, 2, 'Sela', 1)
      // A chain below the children: the script's drain call settles the grandchild.
      await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (5, 'grandchild', 3)")
      const dry = await runCli(['migrate', 'up', '--dry-run', '--url', db.url])
      expect(dry.code, dry.stderr).toBe(0)
      expect(dry.stdout).toMatch(/^-- family-sync /)
      expect(dry.stdout).toContain('-- the backfill would repair 2 mismatched children')
      // Nothing of ours exists yet: a dry run changes nothing.
      expect(await ourObjects(db.knex)).toEqual([])
      const prose = dry.stdout.split('\n').filter((line) => /^(would|backfill|migrated|preflight)/.test(line))
      expect(prose).toEqual([])

      const run = runInClient(db.name, dry.stdout)
      expect(run.stderr).toBe('')
      expect(run.status).toBe(0)
      expect(await mismatchCount(db.knex)).toBe(0)
      expect(await rows(db.knex, 'SELECT user_id, reason FROM family_sync_audit ORDER BY user_id')).toEqual([
        { user_id: 3, reason: 'backfill' },
        { user_id: 4, reason: 'backfill' },
        { user_id: 5, reason: 'drain' },
      ])
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.stdout).toContain('nothing to migrate')
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
    } finally {
      await db.drop()
    }
  })

  it('on an upgrade prints the replacement of the changed object, which the client runs too', async () => {
    const db = await createTestDatabase()
    const old = catalogueWith({ sync_children_family_id: (sql) => sql.replace('AND NEW.family_id IS NOT NULL', 'AND NOT (NEW.family_id IS NULL)') })
    try {
      await install(db.knex, { catalogue: old.catalogue, keepEvent: true })
      const dry = await runCli(['migrate', 'up', '--dry-run', '--url', db.url])
      expect(dry.code, dry.stderr).toBe(0)
      expect(dry.stdout).toContain('-- trigger sync_children_family_id: ')
      // MariaDB replaces in one statement; MySQL has no CREATE OR REPLACE TRIGGER and swaps under LOCK TABLES.
      if (await isMySql(db.knex)) expect(dry.stdout).toMatch(/LOCK TABLES users WRITE;[\s\S]*DROP TRIGGER[\s\S]*CREATE (DEFINER = \S+ )?TRIGGER sync_children_family_id/)
      else expect(dry.stdout).toMatch(/CREATE OR REPLACE (DEFINER = \S+ )?TRIGGER sync_children_family_id/)
      expect(dry.stdout).not.toMatch(/migration 000/)
      expect(runInClient(db.name, dry.stdout)).toEqual({ status: 0, stderr: '' })
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
      expect((await runCli(['migrate', 'up', '--url', db.url])).stdout).toContain('nothing to migrate')
    } finally {
      old.remove()
      await db.drop()
    }
  })

  it('family-sync sql with a database prints what is pending there; without one, everything', async () => {
    const db = await createTestDatabase()
    try {
      await install(db.knex, { keepEvent: true })
      const pending = await runCli(['sql', '--url', db.url])
      expect(pending.code, pending.stderr).toBe(0)
      expect(pending.stdout).toContain('nothing to migrate')
      expect(pending.stdout).not.toContain('CREATE')
      const all = await runCli(['sql'])
      for (const name of ['0001_preflight', '0007_queue_retries_and_liveness']) expect(all.stdout).toContain(`-- migration ${name}`)
      expect(all.stdout).toContain('CREATE TRIGGER inherit_parent_family_id_on_insert')
    } finally {
      await db.drop()
    }
  })
})
