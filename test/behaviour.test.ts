import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { catalogueWith } from './helpers/catalogue.js'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, rows, serverKnex, type TestDatabase } from './helpers/database.js'
import { createFamily, insertBugReportPeople, mismatchCount } from './helpers/family.js'
import { drain, install, ourObjects, queueLength } from './helpers/install.js'

// The behaviour family-sync promises after migrate up, one promise per test.

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(() => db.drop())

async function family(name: string): Promise<number> {
  const [result] = (await db.knex.raw('INSERT INTO families (name) VALUES (?)', [name])) as [{ insertId: number }]
  return result.insertId
}

async function user(username: string, parentId: number | null = null, familyId: number | null = null): Promise<number> {
  const [result] = (await db.knex.raw('INSERT INTO users (username, parent_id, family_id) VALUES (?, ?, ?)', [username, parentId, familyId])) as [{ insertId: number }]
  return result.insertId
}

describe('after migrate up', () => {
  it('the backfill repairs every mismatch with an audit row holding the old value, and changes nothing else', async () => {
    const f1 = await family('one')
    const f2 = await family('two')
    const parent = await user('p1', null, f1)
    const nullChild = await user('c-null', parent, null)
    const wrongChild = await user('c-wrong', parent, f2)
    const rightChild = await user('c-right', parent, f1)
    const loner = await user('loner', null, f2)
    const orphanParent = await user('p-nofamily')
    const freeChild = await user('c-free', orphanParent, f2)
    const grandparent = await user('gp', null, f2)
    const middle = await user('mid', grandparent, f1)
    const grandchild = await user('gc', middle, f1)
    const before = await rows<Record<string, unknown>>(db.knex, 'SELECT * FROM users ORDER BY id')
    expect(await mismatchCount(db.knex)).toBe(3)

    await install(db.knex)

    expect(await mismatchCount(db.knex)).toBe(0)
    const after = await rows<Record<string, unknown>>(db.knex, 'SELECT * FROM users ORDER BY id')
    const changed = after.filter((row, i) => row.family_id !== before[i].family_id).map((row) => row.id)
    expect(changed.sort()).toEqual([nullChild, wrongChild, middle, grandchild].sort())
    for (let i = 0; i < after.length; i++) {
      // Nothing but family_id (and the application's ON UPDATE timestamp) moved.
      const { family_id: _a, updated_at: _b, ...restAfter } = after[i]
      const { family_id: _c, updated_at: _d, ...restBefore } = before[i]
      expect(restAfter).toEqual(restBefore)
    }
    const audit = await rows<{ user_id: number; old_family_id: number | null; new_family_id: number; reason: string }>(
      db.knex,
      'SELECT user_id, old_family_id, new_family_id, reason FROM family_sync_audit ORDER BY user_id',
    )
    expect(audit).toEqual(
      [
        { user_id: nullChild, old_family_id: null, new_family_id: f1, reason: 'backfill' },
        { user_id: wrongChild, old_family_id: f2, new_family_id: f1, reason: 'backfill' },
        { user_id: middle, old_family_id: f1, new_family_id: f2, reason: 'backfill' },
        { user_id: grandchild, old_family_id: f1, new_family_id: f2, reason: 'backfill' },
      ].sort((a, b) => a.user_id - b.user_id),
    )
    expect([rightChild, loner, freeChild].length).toBe(3)
    expect(await familyOf(db.knex, freeChild)).toBe(f2)
  })

  it('a new child takes its parent family in the same statement', async () => {
    const f = await family('insert')
    const parent = await user('ins-parent', null, f)
    const child = await user('ins-child', parent, null)
    expect(await familyOf(db.knex, child)).toBe(f)
    const other = await family('other')
    const explicit = await user('ins-child-2', parent, other)
    expect(await familyOf(db.knex, explicit)).toBe(f)
  })

  it('re-parenting a child gives it the new parent family in the same statement', async () => {
    const fa = await family('a')
    const fb = await family('b')
    const a = await user('reparent-a', null, fa)
    const b = await user('reparent-b', null, fb)
    const child = await user('reparent-child', a)
    expect(await familyOf(db.knex, child)).toBe(fa)
    await db.knex.raw('UPDATE users SET parent_id = ? WHERE id = ?', [b, child])
    expect(await familyOf(db.knex, child)).toBe(fb)
  })

  it('setting a child family_id to NULL or another family queues its parent, and the drain gives it the parent family again', async () => {
    const f = await family('keep')
    const g = await family('elsewhere')
    const parent = await user('keep-parent', null, f)
    const child = await user('keep-child', parent)
    for (const value of [null, g]) {
      await db.knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [value, child])
      // The trigger reads nothing in the application's transaction: the write stands until the drain runs.
      expect(await familyOf(db.knex, child)).toBe(value)
      expect(await rows(db.knex, 'SELECT parent_id FROM family_sync_queue WHERE parent_id = ?', [parent])).toHaveLength(1)
      await drain(db.knex)
      expect(await familyOf(db.knex, child)).toBe(f)
    }
  })

  it('a parent changing family never fails, and children and grandchildren follow on drain', async () => {
    const f = await family('old')
    const g = await family('new')
    const parent = await user('move-parent', null, f)
    const child = await user('move-child', parent)
    const grandchild = await user('move-grandchild', child)
    // The bug report's trigger would fail right here with error 1442.
    await db.knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [g, parent])
    expect(await familyOf(db.knex, parent)).toBe(g)
    expect(await queueLength(db.knex)).toBeGreaterThan(0)
    await drain(db.knex)
    expect(await familyOf(db.knex, child)).toBe(g)
    expect(await familyOf(db.knex, grandchild)).toBe(g)
    expect(await queueLength(db.knex)).toBe(0)
    const audit = await rows<{ user_id: number; reason: string }>(db.knex, "SELECT user_id, reason FROM family_sync_audit WHERE reason = 'drain' AND user_id IN (?, ?)", [child, grandchild])
    expect(audit).toHaveLength(2)
  })

  it('NULL -> family, the case the bug report trigger never fires for, is queued too', async () => {
    const parent = await user('null-parent')
    const child = await user('null-child', parent)
    const f = await family('fresh')
    await db.knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [f, parent])
    await drain(db.knex)
    expect(await familyOf(db.knex, child)).toBe(f)
  })

  it('a change of a row to another non-NULL family is queued whether or not it has children; NULL, the same family or another column is not', async () => {
    const f = await family('queue-f')
    const g = await family('queue-g')
    const leaf = await user('queue-leaf', null, f)
    const selfParent = await user('queue-self', null, f)
    await db.knex.raw('UPDATE users SET parent_id = id WHERE id = ?', [selfParent])
    const parent = await user('queue-parent', null, f)
    const child = await user('queue-child', parent)
    await drain(db.knex)
    const before = await queueLength(db.knex)
    await db.knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [f, parent])
    await db.knex.raw('UPDATE users SET username = ? WHERE id = ?', ['queue-parent-renamed', parent])
    await db.knex.raw('UPDATE users SET family_id = NULL WHERE id = ?', [parent])
    expect(await queueLength(db.knex)).toBe(before)
    // The trigger does not look for children (that lookup would lock them): leaves are queued too.
    await db.knex.raw('UPDATE users SET family_id = ? WHERE id IN (?, ?)', [g, leaf, selfParent])
    await db.knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [g, parent])
    expect(await queueLength(db.knex)).toBe(before + 3)
    const audited = Number((await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM family_sync_audit'))[0].n)
    await drain(db.knex)
    expect(await queueLength(db.knex)).toBe(0)
    // Only the child changed: a leaf's and a self-parent's entries found nothing to do.
    const changed = await rows<{ user_id: number }>(db.knex, 'SELECT user_id FROM family_sync_audit ORDER BY id LIMIT 100 OFFSET ?', [audited])
    expect(changed).toEqual([{ user_id: child }])
    expect(await familyOf(db.knex, selfParent)).toBe(g)
  })

  it('a rolled-back transaction leaves no queued work behind', async () => {
    const f = await family('rollback-f')
    const parent = await user('rollback-parent')
    await user('rollback-child', parent)
    const before = await queueLength(db.knex)
    await db.knex
      .transaction(async (trx) => {
        await trx.raw('UPDATE users SET family_id = ? WHERE id = ?', [f, parent])
        const [[inside]] = (await trx.raw('SELECT COUNT(*) AS n FROM family_sync_queue')) as [[{ n: number }]]
        expect(Number(inside.n)).toBe(before + 1)
        throw new Error('roll back')
      })
      .catch((error: Error) => expect(error.message).toBe('roll back'))
    expect(await queueLength(db.knex)).toBe(before)
    expect(await familyOf(db.knex, parent)).toBeNull()
  })

  it('replacing a trigger lets no concurrent insert escape it', async () => {
    const f = await family('replace')
    const parent = await user('replace-parent', null, f)
    const writer = serverKnex(db.name)
    let stop = false
    const inserted: number[] = []
    const writing = (async () => {
      while (!stop) {
        const [result] = (await writer.raw('INSERT INTO users (username, parent_id) VALUES (?, ?)', ['replace-child', parent])) as [{ insertId: number }]
        inserted.push(result.insertId)
      }
    })()
    // Two versions of the insert trigger, the same logic written differently: each migrate up replaces it.
    const other = catalogueWith({ inherit_parent_family_id_on_insert: (sql) => sql.replace('NEW.parent_id IS NULL,', '(NEW.parent_id IS NULL),') })
    try {
      for (let i = 0; i < 30; i++) {
        await install(db.knex, i % 2 === 0 ? { catalogue: other.catalogue } : {})
        await new Promise((resolve) => setTimeout(resolve, 3))
      }
    } finally {
      other.remove()
    }
    stop = true
    await writing
    await writer.destroy()
    expect(inserted.length).toBeGreaterThanOrEqual(30)
    const escaped = await rows(db.knex, 'SELECT id FROM users WHERE parent_id = ? AND NOT (family_id <=> ?)', [parent, f])
    expect(escaped).toEqual([])
  })
})

describe('migrate down to the start', () => {
  it('drains the queue, removes every object and the queue, keeps the audit and never changes users otherwise', async () => {
    const other = await createTestDatabase()
    try {
      await insertBugReportPeople(other.knex)
      await install(other.knex)
      await createFamily(other.knex, 2, 'Sela', 1)
      expect(await queueLength(other.knex)).toBe(1)
      const down = await runCli(['migrate', 'down', '--to', '0', '--url', other.url])
      expect(down.code, down.stderr).toBe(0)
      // The queued work was applied on the way down, with audit rows.
      expect(await mismatchCount(other.knex)).toBe(0)
      const left = await ourObjects(other.knex)
      expect(left.map((o) => o.name).sort()).toEqual(['family_sync_audit', 'family_sync_migrations'])
      const audit = await rows<{ user_id: number; reason: string }>(other.knex, 'SELECT user_id, reason FROM family_sync_audit ORDER BY user_id')
      expect(audit).toEqual([
        { user_id: 3, reason: 'drain' },
        { user_id: 4, reason: 'drain' },
      ])
    } finally {
      await other.drop()
    }
  })
})
