import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { moveChildren } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { runInClient } from './helpers/client.js'
import { filesFor } from './helpers/servers.js'
import { suiteBuild } from './helpers/suite-build.js'
import { APP_SCHEMA, createTestDatabase, familyOf, rows, type TestDatabase } from './helpers/database.js'
import { mismatchCount } from './helpers/family.js'
import { drain, install, queueLength } from './helpers/install.js'

// Writes that fire no UPDATE trigger must not leave children behind: each
// form below ends with every child in its parent's family after a drain,
// with no repair.

// The relation kept by the application alone: no foreign key on parent_id (so
// REPLACE can delete and insert a parent), an index for the lookups.
const NO_PARENT_KEY = [APP_SCHEMA[0], APP_SCHEMA[1].replace(/CONSTRAINT users_parent_fk FOREIGN KEY \(parent_id\) REFERENCES users \(id\)/, 'KEY users_parent_id (parent_id)')]

async function withDatabase(schema: string[] | undefined, work: (db: TestDatabase) => Promise<void>): Promise<void> {
  const db = await createTestDatabase(schema ? { schema } : {})
  try {
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    await install(db.knex)
    await work(db)
  } finally {
    await db.drop()
  }
}

async function settledByTheDrain(db: TestDatabase): Promise<void> {
  expect(await queueLength(db.knex)).toBeGreaterThan(0)
  await drain(db.knex)
  expect(await mismatchCount(db.knex)).toBe(0)
  expect(await rows(db.knex, "SELECT user_id FROM family_sync_audit WHERE reason <> 'drain'")).toEqual([])
}

describe('writes that insert a parent after its children', () => {
  it('REPLACE of a parent (a delete and an insert) with a new family is queued', async () => {
    await withDatabase(NO_PARENT_KEY, async (db) => {
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
      await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1), (3, 'child', 1)")
      await drain(db.knex)
      await db.knex.raw("REPLACE INTO users (id, username, family_id) VALUES (1, 'parent', 2)")
      await settledByTheDrain(db)
      expect([await familyOf(db.knex, 2), await familyOf(db.knex, 3)]).toEqual([2, 2])
    })
  })

  it('a children-first LOAD DATA with foreign_key_checks=0 (a restore): the parents loaded last are queued', async (ctx) => {
    await withDatabase(undefined, async (db) => {
      const [[{ local }]] = (await db.knex.raw('SELECT @@GLOBAL.local_infile AS local')) as [[{ local: number }]]
      if (!Number(local)) {
        console.warn('family-sync tests: skipped LOAD DATA LOCAL: local_infile is OFF on this server (MySQL ships it off)')
        ctx.skip()
      }
      // Where the server's own client reads it: inside the chroot, for a chroot build.
      const files = filesFor(suiteBuild())
      try {
        const file = join(files.inside, 'users.csv')
        writeFileSync(join(files.outside, 'users.csv'), ['10,child a,1,\\N', '11,child b,1,3', '12,grandchild,10,\\N', '1,parent,\\N,2'].join('\n') + '\n')
        const load = runInClient(
          db.name,
          `SET foreign_key_checks = 0;\nLOAD DATA LOCAL INFILE '${file}' INTO TABLE users FIELDS TERMINATED BY ',' (id, username, parent_id, family_id);\nSET foreign_key_checks = 1;\n`,
          ['--local-infile=1'],
        )
        expect(load).toEqual({ status: 0, stderr: '' })
      } finally {
        files.remove()
      }
      expect(await mismatchCount(db.knex)).toBe(2)
      await settledByTheDrain(db)
      expect([await familyOf(db.knex, 10), await familyOf(db.knex, 11), await familyOf(db.knex, 12)]).toEqual([2, 2, 2])
    })
  })

  it('an INSERT ... SELECT restore with foreign_key_checks=0, children first: the parents are queued', async () => {
    await withDatabase(undefined, async (db) => {
      await db.knex.raw('CREATE TABLE staging LIKE users')
      await db.knex.raw("INSERT INTO staging (id, username, parent_id, family_id) VALUES (20, 'child', 5, NULL), (21, 'child', 5, 1), (5, 'parent', NULL, 3)")
      await db.knex.transaction(async (trx) => {
        await trx.raw('SET foreign_key_checks = 0')
        await trx.raw('INSERT INTO users (id, username, parent_id, family_id) SELECT id, username, parent_id, family_id FROM staging ORDER BY id DESC')
        await trx.raw('SET foreign_key_checks = 1')
      })
      await settledByTheDrain(db)
      expect([await familyOf(db.knex, 20), await familyOf(db.knex, 21)]).toEqual([3, 3])
    })
  })

  it('a child inserted before its parent in one transaction', async () => {
    await withDatabase(NO_PARENT_KEY, async (db) => {
      await db.knex.transaction(async (trx) => {
        await trx.raw("INSERT INTO users (id, username, parent_id) VALUES (31, 'early child', 30)")
        await trx.raw("INSERT INTO users (id, username, family_id) VALUES (30, 'late parent', 1)")
      })
      await settledByTheDrain(db)
      expect(await familyOf(db.knex, 31)).toBe(1)
    })
  })
})

describe("children in the application's own transaction", () => {
  const CASCADE = [APP_SCHEMA[0], APP_SCHEMA[1].replace('REFERENCES families (id)', 'REFERENCES families (id) ON DELETE CASCADE')]

  /** The merge flow: the parent moves to family 2, family 1 goes, in one transaction. */
  async function merge(db: TestDatabase, move: boolean): Promise<string> {
    return db.knex
      .transaction(async (trx) => {
        await trx.raw('UPDATE users SET family_id = 2 WHERE id = 1')
        if (move) await moveChildren(trx, 1)
        await trx.raw('DELETE FROM families WHERE id = 1')
      })
      .then(
        () => 'committed',
        (error: { errno?: number }) => `failed with ${error.errno}`,
      )
  }

  async function family(db: TestDatabase, grandchild = true): Promise<void> {
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
    await db.knex.raw(`INSERT INTO users (id, username, parent_id) VALUES ${Array.from({ length: 15 }, (_, i) => `(${100 + i}, 'child', 1)`).join(', ')}`)
    if (grandchild) await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (200, 'grandchild', 100)")
  }

  it('with ON DELETE CASCADE: after family_sync_move_children no child is deleted, each is audited, and the queued entry finds nothing left', async () => {
    await withDatabase(CASCADE, async (db) => {
      await family(db)
      expect(await merge(db, true)).toBe('committed')
      const [{ n }] = await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM users WHERE family_id = 2')
      expect(Number(n)).toBe(17)
      const audit = await rows<{ reason: string; n: number }>(db.knex, 'SELECT reason, COUNT(*) AS n FROM family_sync_audit GROUP BY reason')
      expect(audit.map((a) => [a.reason, Number(a.n)])).toEqual([['transaction', 16]])
      await drain(db.knex)
      expect(await queueLength(db.knex)).toBe(0)
      expect(Number((await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM family_sync_audit'))[0].n)).toBe(16)
    })
  })

  it('with ON DELETE CASCADE and no call, the children still have the old family when it goes: the preflight warns of exactly this', async () => {
    await withDatabase(CASCADE, async (db) => {
      // Children only: InnoDB would refuse to cascade through the parent_id key of a grandchild.
      await family(db, false)
      expect(await merge(db, false)).toBe('committed')
      const [{ n }] = await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM users')
      expect(Number(n)).toBe(1)
    })
    const db = await createTestDatabase({ schema: CASCADE })
    try {
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.code, up.stderr).toBe(0)
      expect(up.stderr).toMatch(/warning: users\.family_id has the foreign key users_family_fk with ON DELETE CASCADE: .*deletes them with it; call family_sync_move_children\(parent_id\)/)
    } finally {
      await db.drop()
    }
  })

  it("with the bug report's plain foreign key (RESTRICT): the merge fails without the call and commits with it", async () => {
    await withDatabase(undefined, async (db) => {
      await family(db)
      expect(await merge(db, false)).toBe('failed with 1451')
      expect(await merge(db, true)).toBe('committed')
      expect(await mismatchCount(db.knex)).toBe(0)
    })
  })
})

describe('a table swap', () => {
  it("RENAME TABLE takes the triggers along: verify names it, migrate up moves them back to users and repairs what was written meanwhile, keeping the old table", async () => {
    await withDatabase(NO_PARENT_KEY, async (db) => {
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
      await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1)")
      // What online schema tools and hand migrations do: build the new table, swap the two.
      await db.knex.raw('CREATE TABLE users_new LIKE users')
      await db.knex.raw('INSERT INTO users_new SELECT * FROM users')
      await db.knex.raw('RENAME TABLE users TO users_old, users_new TO users')
      // Unguarded now: a new child of parent 1 keeps what it was given.
      await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (3, 'unguarded child', 1, 3)")
      expect(await mismatchCount(db.knex)).toBe(1)

      const verify = await runCli(['verify', '--url', db.url])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toMatch(/problem: trigger inherit_parent_family_id_on_insert sits on users_old, not users \(a table swap.*\): run family-sync migrate up, which moves it back to users/)
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toMatch(/moved to users trigger inherit_parent_family_id_on_insert/)
      expect(up.stdout).toMatch(/repaired 1 children written while the triggers were on another table/)
      expect(await mismatchCount(db.knex)).toBe(0)
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
      expect((await runCli(['check', '--url', db.url])).code).toBe(0)
      expect(await rows(db.knex, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users_old'")).toEqual([{ t: 'users_old' }])
      // Guarded again.
      await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (4, 'guarded child', 1, 3)")
      expect(await familyOf(db.knex, 4)).toBe(1)
    })
  })
})
