import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shippedCatalogue } from '../src/db/catalogue.js'
import { createMigrator } from '../src/migrator/create-migrator.js'
import { verifyTriggers } from '../src/library.js'
import { catalogueWith } from './helpers/catalogue.js'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, rows, serverKnex, type TestDatabase } from './helpers/database.js'
import { install } from './helpers/install.js'

// The same update trigger, written another way: what an older (or newer) version ships.
const variant = () => catalogueWith({ inherit_parent_family_id_on_update: (sql) => sql.replace('AND NEW.parent_id <> NEW.id', 'AND NOT (NEW.parent_id = NEW.id)') })

async function body(db: TestDatabase, name: string): Promise<string> {
  const [row] = await rows<{ body: string }>(db.knex, 'SELECT ACTION_STATEMENT AS body FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = ?', [name])
  return row?.body ?? ''
}

describe('replacing a trigger while the application holds users', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one')")
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
  })
  afterAll(() => db.drop())

  it('an open transaction delays migrate up, not the application: no statement waits much longer than --lock-wait', async () => {
    const old = variant()
    await install(db.knex, { catalogue: old.catalogue })
    old.remove()
    const holder = serverKnex(db.name)
    const reader = serverKnex(db.name)
    const connection = await holder.client.acquireConnection()
    try {
      // An application transaction that read users and stays open for 10 s.
      await holder.raw('START TRANSACTION').connection(connection)
      await holder.raw('SELECT COUNT(*) FROM users').connection(connection)
      const started = Date.now()
      const migrating = runCli(['migrate', 'up', '--lock-wait', '2', '--url', db.url])
      const waits: number[] = []
      let done = false
      void migrating.then(() => (done = true))
      const commitAt = started + 10_000
      let committed = false
      while (!done || !committed) {
        if (!committed && Date.now() >= commitAt) {
          await holder.raw('COMMIT').connection(connection)
          committed = true
        }
        const t = Date.now()
        await reader.raw('SELECT COUNT(*) FROM users WHERE id > 0')
        waits.push(Date.now() - t)
        await new Promise((resolve) => setTimeout(resolve, 20))
        if (Date.now() - started > 60_000) throw new Error('migrate up did not finish')
      }
      const up = await migrating
      expect(up.code, up.stderr).toBe(0)
      expect(up.stderr).toMatch(/waited for a lock held by connection \d+/)
      const longest = Math.max(...waits)
      console.log(`application's longest wait during migrate up behind a 10 s transaction: ${longest} ms over ${waits.length} statements; migrate up took ${Date.now() - started} ms`)
      expect(longest).toBeLessThan(3000)
      expect(Date.now() - started).toBeGreaterThanOrEqual(10_000)
      expect(await body(db, 'inherit_parent_family_id_on_update')).toContain('NEW.parent_id <> NEW.id')
    } finally {
      await holder.client.releaseConnection(connection)
      await holder.destroy()
      await reader.destroy()
    }
  }, 90_000)

  it('gives up within --lock-timeout with exit 2, naming the transaction that holds the lock', async () => {
    const old = variant()
    await install(db.knex, { catalogue: old.catalogue })
    old.remove()
    const holder = serverKnex(db.name)
    const connection = await holder.client.acquireConnection()
    try {
      await holder.raw('START TRANSACTION').connection(connection)
      await holder.raw('SELECT COUNT(*) FROM users').connection(connection)
      const [[{ id }]] = (await holder.raw('SELECT CONNECTION_ID() AS id').connection(connection)) as [[{ id: number }]]
      const started = Date.now()
      const up = await runCli(['migrate', 'up', '--lock-wait', '1', '--lock-timeout', '4', '--url', db.url])
      expect(up.code).toBe(2)
      expect(Date.now() - started).toBeLessThan(15_000)
      const last = up.stderr.trim().split('\n').at(-1)!
      expect(last).toMatch(new RegExp(`gave up after \\d+ attempts.*connection ${id} \\(`))
      await holder.raw('ROLLBACK').connection(connection)
    } finally {
      await holder.client.releaseConnection(connection)
      await holder.destroy()
    }
  }, 60_000)
})

describe('a replacement that fails', () => {
  for (const strategy of ['create-or-replace', 'lock-tables'] as const) {
    it(`(${strategy}) keeps the old trigger and leaves no lock behind, even on a pool of one connection`, async () => {
      const db = await createTestDatabase()
      const knex = serverKnex(db.name)
      const single = (await import('knex')).default({ client: 'mysql2', connection: db.url, pool: { min: 1, max: 1 } })
      const old = variant()
      const broken = catalogueWith({ inherit_parent_family_id_on_update: (sql) => sql.replace('END IF$$', 'END IFF$$') })
      try {
        await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one')")
        await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
        await install(db.knex, { catalogue: old.catalogue })
        const before = await body(db, 'inherit_parent_family_id_on_update')
        const failure = await createMigrator(single, { catalogue: broken.catalogue, strategy }).up().then(() => null, (error: Error) => error)
        expect(failure?.message).toMatch(/syntax/)
        // The same pooled connection and another one both write at once.
        const t = Date.now()
        await single.raw("INSERT INTO users (username, parent_id) VALUES ('after-1', 1)")
        await knex.raw("INSERT INTO users (username, parent_id) VALUES ('after-2', 1)")
        expect(Date.now() - t).toBeLessThan(1000)
        expect(await body(db, 'inherit_parent_family_id_on_update')).toBe(before)
        // And the trigger still works.
        const [[child]] = (await knex.raw("SELECT family_id FROM users WHERE username = 'after-2'")) as [[{ family_id: number }]]
        expect(child.family_id).toBe(1)
      } finally {
        old.remove()
        broken.remove()
        await single.destroy()
        await knex.destroy()
        await db.drop()
      }
    })
  }
})

describe('an upgrade that changes a trigger body', () => {
  it('ships by migrate up alone: status lists it, verify names the fix, and no write escapes the triggers meanwhile', async () => {
    const db = await createTestDatabase()
    const old = variant()
    try {
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'p1', 1), (2, 'p2', 2)")
      await install(db.knex, { catalogue: old.catalogue, keepEvent: true })

      const verifyBefore = await runCli(['verify', '--url', db.url])
      expect(verifyBefore.code).toBe(1)
      expect(verifyBefore.stdout).toMatch(/problem: trigger inherit_parent_family_id_on_update .*: run family-sync migrate up/)
      const status = JSON.parse((await runCli(['migrate', 'status', '--json', '--url', db.url])).stdout)
      expect(status.pending).toEqual(['inherit_parent_family_id_on_update'])
      expect(status.objects.filter((o: { pending: boolean }) => o.pending)).toEqual([expect.objectContaining({ name: 'inherit_parent_family_id_on_update', kind: 'trigger', state: 'differs' })])

      // Writers re-parent and insert children throughout the upgrade.
      const writer = serverKnex(db.name)
      let stop = false
      let writes = 0
      const writing = (async () => {
        for (let i = 0; !stop; i++) {
          const parent = 1 + (i % 2)
          await writer.raw('INSERT INTO users (username, parent_id) VALUES (?, ?)', [`kid ${i}`, parent])
          await writer.raw("UPDATE users SET parent_id = ? WHERE username LIKE 'kid %' ORDER BY id DESC LIMIT 1", [3 - parent])
          writes += 2
        }
      })()
      const up = await runCli(['migrate', 'up', '--url', db.url])
      await new Promise((resolve) => setTimeout(resolve, 200))
      stop = true
      await writing
      await writer.destroy()
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toMatch(/installed trigger inherit_parent_family_id_on_update/)
      expect(writes).toBeGreaterThan(20)
      const escaped = await rows(db.knex, 'SELECT c.id FROM users c JOIN users p ON p.id = c.parent_id WHERE NOT (c.family_id <=> p.family_id)')
      expect(escaped).toEqual([])
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
      expect((await verifyTriggers(db.knex)).objects.every((o) => o.upToDate)).toBe(true)
      const recorded = await rows<{ checksum: string }>(db.knex, "SELECT checksum FROM family_sync_objects WHERE name = 'inherit_parent_family_id_on_update'")
      expect(recorded[0].checksum).toBe(shippedCatalogue().checksum('inherit_parent_family_id_on_update'))
      expect((await runCli(['migrate', 'up', '--url', db.url])).stdout).toContain('nothing to migrate')
    } finally {
      old.remove()
      await db.drop()
    }
  }, 60_000)
})
