import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { drainSyncQueue, isRetryableWriteError } from '../src/library.js'
import { createTestDatabase, rows, type TestDatabase } from './helpers/database.js'
import { mismatchCount } from './helpers/family.js'
import { drain, install, queueLength } from './helpers/install.js'

// Application writers changing families and re-parenting, two drains at once,
// KILL QUERY on the drains at random, and a rebuild of users (ALTER TABLE ...
// ALGORITHM=COPY) midway. At the end the invariant is exact and every audit
// row is accounted for: a history trigger of the test's own records every
// family change on users and whether family-sync made it, and the changes
// family-sync made are exactly the audit's rows. A fixed number of writes
// here; FAMILY_SYNC_SOAK_OPERATIONS (npm run bench sets more) scales it.
const OPERATIONS = Number(process.env.FAMILY_SYNC_SOAK_OPERATIONS ?? 3000)
const PARENTS = 40
const CHILDREN = 160

describe(`a randomized soak of ${OPERATIONS} application writes`, () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await db.knex.raw(`INSERT INTO families (id, name) VALUES ${Array.from({ length: 30 }, (_, i) => `(${i + 1}, 'f')`).join(', ')}`)
    await db.knex.raw(`INSERT INTO users (id, username, family_id) VALUES ${Array.from({ length: PARENTS }, (_, i) => `(${i + 1}, 'p', ${(i % 30) + 1})`).join(', ')}`)
    // Children of parents, and a quarter of them children of children: chains.
    await db.knex.raw(
      `INSERT INTO users (id, username, parent_id) VALUES ${Array.from({ length: CHILDREN }, (_, i) => `(${100 + i}, 'c', ${i < CHILDREN * 0.75 ? (i % PARENTS) + 1 : 100 + (i % (CHILDREN * 0.75))})`).join(', ')}`,
    )
    await db.knex.raw(`CREATE TABLE history (
      id BIGINT AUTO_INCREMENT PRIMARY KEY, user_id BIGINT NOT NULL, old_family_id BIGINT NULL, new_family_id BIGINT NULL, by_package BOOLEAN NOT NULL
    ) ENGINE=InnoDB`)
    await db.knex.raw(`CREATE TRIGGER fs_test_history AFTER UPDATE ON users FOR EACH ROW
      INSERT INTO history (user_id, old_family_id, new_family_id, by_package)
      SELECT NEW.id, OLD.family_id, NEW.family_id, @family_sync_repairing <=> CONNECTION_ID() FROM DUAL WHERE NOT (NEW.family_id <=> OLD.family_id)`)
    // Installed after the history trigger: the backfill's changes are accounted for too.
    await install(db.knex)
  })
  afterAll(() => db.drop())

  it('ends with the invariant exact, the queue empty, and one audit row for every change family-sync made, and no other', async () => {
    const stats = { writes: 0, retried: 0, drained: 0, drainErrors: 0, kills: 0, rebuilt: false }
    const writers = [0, 1, 2].map(() => knexFactory({ client: 'mysql2', connection: db.url, pool: { min: 0, max: 1 } }))
    const drains = [0, 1].map(() => knexFactory({ client: 'mysql2', connection: db.url, pool: { min: 1, max: 1 } }))
    const admin = knexFactory({ client: 'mysql2', connection: db.url, pool: { min: 0, max: 2 } })
    const drainIds = await Promise.all(drains.map(async (k) => ((await k.raw('SELECT CONNECTION_ID() AS id')) as [[{ id: number }]])[0][0].id))
    const pick = (n: number) => Math.floor(Math.random() * n)
    const anyUser = () => (pick(5) === 0 ? pick(PARENTS) + 1 : 100 + pick(CHILDREN))
    let done = 0
    let nextChild = 10_000

    async function write(knex: Knex): Promise<void> {
      const op = pick(8)
      const family = pick(30) + 1
      if (op < 3) await knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [family, pick(PARENTS) + 1])
      else if (op < 4) await knex.raw('UPDATE users SET parent_id = ? WHERE id = ? AND ? <> id', [anyUser(), 100 + pick(CHILDREN), 0])
      else if (op < 5) await knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [pick(3) === 0 ? null : family, anyUser()])
      else if (op < 6) await knex.raw("INSERT INTO users (id, username, parent_id) VALUES (?, 'new', ?)", [nextChild++, anyUser()])
      else if (op < 7) {
        await knex.transaction(async (trx) => {
          await trx.raw('UPDATE users SET family_id = ? WHERE id = ?', [family, 100 + pick(CHILDREN)])
          await trx.raw('UPDATE users SET family_id = ? WHERE id = ?', [family, pick(PARENTS) + 1])
        })
      } else {
        await knex.transaction(async (trx) => {
          await trx.raw('UPDATE users SET family_id = ? WHERE id = ?', [family, pick(PARENTS) + 1])
          if (pick(2) === 0) throw Object.assign(new Error('rolled back on purpose'), { rolledBack: true })
        }).catch((error: { rolledBack?: boolean }) => {
          if (!error.rolledBack) throw error
        })
      }
    }

    const writing = writers.map(async (knex) => {
      while (done < OPERATIONS) {
        done++
        for (let attempt = 0; ; attempt++) {
          try {
            await write(knex)
            stats.writes++
            break
          } catch (error) {
            // The application's retries, as the README asks of it: deadlocks and lock waits, and the
            // interrupted table loads MariaDB reports when a statement (here a drain's) is killed.
            if (isRetryableWriteError(error) && attempt < 20) {
              stats.retried++
              continue
            }
            throw error
          }
        }
        if (!stats.rebuilt && done >= OPERATIONS / 2) {
          stats.rebuilt = true
          await admin.raw('ALTER TABLE users ENGINE = InnoDB, ALGORITHM = COPY')
        }
      }
    })
    let writingDone = false
    const draining = drains.map(async (knex) => {
      while (!writingDone) {
        try {
          stats.drained += (await drainSyncQueue(knex, { entriesPerCall: 20 })).applied
        } catch {
          stats.drainErrors++
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })
    const killing = (async () => {
      while (!writingDone) {
        await new Promise((resolve) => setTimeout(resolve, 20 + pick(80)))
        // Only a statement of this database's drains: a connection id the server has since given to
        // another test's connection (ids are reused) must not be killed.
        const [calls] = (await admin.raw("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE '%family_sync_drain%' AND ID IN (?)", [db.name, drainIds])) as [Array<{ id: number }>]
        if (calls.length > 0) await admin.raw(`KILL QUERY ${Number(calls[pick(calls.length)].id)}`).catch(() => {})
        stats.kills++
      }
    })()
    await Promise.all(writing)
    writingDone = true
    await Promise.all([...draining, killing])
    await Promise.all([...writers, ...drains].map((k) => k.destroy()))
    await admin.destroy()
    // Whatever a kill left waiting for its short retry pause.
    for (let round = 0; round < 20 && (await queueLength(db.knex)) > 0; round++) {
      await db.knex.raw('UPDATE family_sync_queue SET retry_at = NULL')
      stats.drained += await drain(db.knex)
    }
    console.log(`soak of ${OPERATIONS} writes: ${JSON.stringify(stats)}`)

    expect(stats.rebuilt).toBe(true)
    expect(stats.kills).toBeGreaterThan(0)
    expect(await queueLength(db.knex)).toBe(0)
    expect(await mismatchCount(db.knex)).toBe(0)
    const below = await rows<{ n: number }>(db.knex, `SELECT COUNT(*) AS n FROM users c JOIN users p ON p.id = c.parent_id WHERE p.family_id IS NOT NULL AND NOT (c.family_id <=> p.family_id)`)
    expect(Number(below[0].n)).toBe(0)
    const parked = await rows(db.knex, 'SELECT id FROM family_sync_queue WHERE parked_at IS NOT NULL')
    expect(parked).toEqual([])
    // Every change family-sync made has its audit row with the true old and new values, and every audit row a change.
    const key = (r: { user_id: number; old_family_id: number | null; new_family_id: number | null }) => `${r.user_id}:${r.old_family_id}:${r.new_family_id}`
    const made = (await rows<{ user_id: number; old_family_id: number | null; new_family_id: number | null }>(db.knex, 'SELECT user_id, old_family_id, new_family_id FROM history WHERE by_package')).map(key).sort()
    const audited = (await rows<{ user_id: number; old_family_id: number | null; new_family_id: number | null }>(db.knex, 'SELECT user_id, old_family_id, new_family_id FROM family_sync_audit')).map(key).sort()
    expect(made.length).toBeGreaterThan(0)
    expect(audited).toEqual(made)
  }, 300_000)
})
