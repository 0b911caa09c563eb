import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkConsistency, drainSyncQueue, repairFamilyIds } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA, createTestDatabase, rows, serverKnex, type TestDatabase } from './helpers/database.js'
import { mismatchCount, updateBypassingTriggers } from './helpers/family.js'
import { drain, install } from './helpers/install.js'
import { populate } from './helpers/populate.js'

// users with BIGINT ids, as an application with a distributed id generator has.
const BIG_IDS = [APP_SCHEMA[0], APP_SCHEMA[1].replace('id INT NOT NULL AUTO_INCREMENT', 'id BIGINT NOT NULL AUTO_INCREMENT').replace('parent_id INT NULL', 'parent_id BIGINT NULL')]

describe('repair on ids that are few and far apart', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase({ schema: BIG_IDS })
    await install(db.knex)
    for (const name of ['inherit_parent_family_id_on_insert', 'inherit_parent_family_id_on_update', 'sync_children_family_id']) await db.knex.raw(`DROP TRIGGER ${name}`)
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
  })
  afterAll(() => db.drop())

  it('a mismatch at id 10^12 among two rows: its time follows the rows, not the span of ids', async () => {
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1000000000000, 'far parent', 1)")
    await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (1000000000001, 'far child', 1000000000000, 2)")
    const repair = await runCli(['repair', '--json', '--url', db.url])
    expect(repair.code, repair.stderr).toBe(0)
    const result = JSON.parse(repair.stdout)
    expect(result).toMatchObject({ fixed: 1, remaining: 0 })
    // Batches follow rows: two rows are one batch or two, whatever the span of their ids.
    expect(result.batches).toBeLessThanOrEqual(2)
  })

  it('ids around 2^53 and up to 2^63-1 are exact in the repair, its audit and check', async () => {
    const ids = ['9007199254740993', '9007199254740995', '9223372036854775806', '9223372036854775807']
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (9007199254740993, 'p53', 1), (9223372036854775806, 'p63', 1)")
    await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (9007199254740995, 'c53', 9007199254740993, 2), (9223372036854775807, 'c63', 9223372036854775806, 2)")
    const check = await checkConsistency(db.knex)
    expect(check.mismatches.map((m) => m.childId)).toEqual([ids[1], ids[3]])
    expect(check.mismatches.map((m) => m.parentId)).toEqual([ids[0], ids[2]])
    const familyCheck = JSON.parse((await runCli(['check', '--json', '--family', '1', '--url', db.url])).stdout)
    expect(familyCheck.mismatches.map((m: { childId: string }) => m.childId)).toEqual([ids[1], ids[3]])
    expect((await repairFamilyIds(db.knex)).fixed).toBe(2)
    expect(await rows(db.knex, "SELECT CAST(user_id AS CHAR) AS id, old_family_id, new_family_id FROM family_sync_audit WHERE user_id > 9000000000000000000 OR user_id IN (9007199254740995) ORDER BY user_id")).toEqual([
      { id: ids[1], old_family_id: 2, new_family_id: 1 },
      { id: ids[3], old_family_id: 2, new_family_id: 1 },
    ])
    expect((await checkConsistency(db.knex)).mismatchCount).toBe(0)
  })

  it('--family beyond what users.family_id holds is refused, not rounded', async () => {
    for (const family of ['9007199254740993', '2147483648']) {
      const result = await runCli(['check', '--family', family, '--url', db.url])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`--family ${family} is out of range for users.family_id (int`)
    }
  })
})

describe('repair under steady application writes', () => {
  it('exits 0 when what remains is queued work, and reports it as pending', async () => {
    const db = await createTestDatabase()
    const writer = serverKnex(db.name)
    try {
      await populate(db.knex, 300, 4)
      await install(db.knex)
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1000, 'moving')")
      // Parents keep changing family; nothing drains, so their children stay queued work.
      let stop = false
      let moves = 0
      const writing = (async () => {
        for (let i = 0; !stop; i++) {
          await writer.raw('UPDATE users SET family_id = ? WHERE id = ?', [Math.floor(i / 300) % 2 ? 1000 : 1 + (i % 300), 1 + (i % 300)])
          moves++
        }
      })()
      await new Promise((resolve) => setTimeout(resolve, 300))
      const started = Date.now()
      const repair = await runCli(['repair', '--json', '--url', db.url])
      stop = true
      await writing
      expect(repair.code, repair.stderr).toBe(0)
      const result = JSON.parse(repair.stdout)
      expect(result.remaining).toBe(0)
      expect(result.pending).toBeGreaterThan(0)
      expect(Date.now() - started).toBeLessThan(15_000)
      expect(moves).toBeGreaterThan(50)
    } finally {
      await writer.destroy()
      await db.drop()
    }
  }, 60_000)
})

const SECONDS = Number(process.env.FAMILY_SYNC_REPAIR_SOAK_SECONDS ?? 15)

describe(`repair beside four application writers that never retry, for ${SECONDS} s`, () => {
  it('no application statement fails: repair never waits for a lock, so it is never in a deadlock', async () => {
    const db = await createTestDatabase()
    const PARENTS = 200
    const users = PARENTS * 5
    try {
      await populate(db.knex, PARENTS, 4)
      await install(db.knex)
      const writers = Array.from({ length: 4 }, () => serverKnex(db.name))
      const breaker = serverKnex(db.name)
      const repairer = serverKnex(db.name)
      const failures: string[] = []
      let statements = 0
      let fixed = 0
      let broke = 0
      const stopAt = Date.now() + SECONDS * 1000
      const pick = (n: number) => 1 + Math.floor(Math.random() * n)
      const child = () => PARENTS + pick(users - PARENTS)
      const writing = writers.map(async (knex) => {
        while (Date.now() < stopAt) {
          const op = pick(4)
          const [sql, bindings]: [string, Array<string | number>] =
            op === 1 ? ['UPDATE users SET parent_id = ? WHERE id = ?', [pick(PARENTS), child()]]
            : op === 2 ? ['UPDATE users SET family_id = NULL WHERE id = ?', [child()]]
            : op === 3 ? ["INSERT INTO users (username, parent_id) VALUES ('soak', ?)", [pick(PARENTS)]]
            : ["UPDATE users SET username = CONCAT('renamed ', id) WHERE id = ?", [child()]]
          try {
            await knex.raw(sql, bindings)
            statements++
          } catch (error) {
            failures.push(`${(error as { code?: string }).code}: ${(error as Error).message}`)
          }
        }
      })
      // Something keeps making mismatches the triggers would have stopped (the bypass, on its own connection).
      const breaking = (async () => {
        const connection = await breaker.client.acquireConnection()
        try {
          await breaker.raw('SET @family_sync_repairing = CONNECTION_ID()').connection(connection)
          while (Date.now() < stopAt) {
            // MariaDB 11.8 may refuse a write to a row changed meanwhile (1020); the breaker simply goes on.
            await breaker
              .raw('UPDATE users SET family_id = NULL WHERE id = ?', [child()])
              .connection(connection)
              .then(() => broke++)
              .catch((error: { errno?: number }) => {
                if (error.errno !== 1020 && error.errno !== 1213) throw error
              })
            await new Promise((resolve) => setTimeout(resolve, 2))
          }
        } finally {
          await breaker.raw('SET @family_sync_repairing = NULL').connection(connection)
          await breaker.client.releaseConnection(connection)
        }
      })()
      const repairing = (async () => {
        while (Date.now() < stopAt) fixed += (await repairFamilyIds(repairer, { batchMs: 50 })).fixed
      })()
      // A drain runs beside them, as deployed: a child's own family write queues its parent, and
      // repair leaves queued work to the drain.
      const drainer = serverKnex(db.name)
      const draining = (async () => {
        while (Date.now() < stopAt) {
          if ((await drainSyncQueue(drainer)).applied === 0) await new Promise((resolve) => setTimeout(resolve, 20))
        }
      })()
      await Promise.all([...writing, breaking, repairing, draining])
      await Promise.all([...writers, breaker, repairer, drainer].map((k) => k.destroy()))
      // A child's own family write queues its parent: the drain settles those, repair the rest.
      await drain(db.knex)
      fixed += (await repairFamilyIds(db.knex)).fixed
      console.log(`repair soak ${SECONDS}s: ${statements} application statements, ${failures.length} failed, ${broke} mismatches made, ${fixed} children repaired`)
      expect(failures).toEqual([])
      expect(statements).toBeGreaterThan(SECONDS * 50)
      // Repair had work throughout and did it; the drain took what was queued.
      expect(broke).toBeGreaterThan(SECONDS * 10)
      expect(fixed).toBeGreaterThan(0)
      expect(await mismatchCount(db.knex)).toBe(0)
    } finally {
      await db.drop()
    }
  }, (SECONDS + 60) * 1000)
})

describe('a mismatch the application holds throughout', () => {
  it('is left, never waited for: repair exits 1 saying it remains, in JSON too; once released, repair fixes it', async () => {
    const db = await createTestDatabase()
    const holder = serverKnex(db.name, { min: 1, max: 1 })
    try {
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
      await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'held', 1), (3, 'free', 1)")
      await install(db.knex)
      await updateBypassingTriggers(db.knex, 'UPDATE users SET family_id = 2 WHERE id IN (2, 3)')
      const started = Date.now()
      await holder.transaction(async (trx) => {
        await trx.raw('SELECT id FROM users WHERE id = 2 FOR UPDATE')
        const held = await runCli(['repair', '--json', '--url', db.url])
        expect(held.code, held.stderr).toBe(1)
        expect(JSON.parse(held.stdout)).toMatchObject({ fixed: 1, remaining: 1 })
        const human = await runCli(['repair', '--url', db.url])
        expect(human.code).toBe(1)
        expect(human.stdout).toMatch(/problem: 1 mismatches remain \(rows the application held throughout\): run repair again/)
      })
      console.log(`repair beside a held row: two runs and the release in ${Date.now() - started} ms`)
      const released = await runCli(['repair', '--json', '--url', db.url])
      expect(released.code, released.stderr).toBe(0)
      expect(JSON.parse(released.stdout)).toMatchObject({ fixed: 1, remaining: 0 })
      expect(await mismatchCount(db.knex)).toBe(0)
    } finally {
      await holder.destroy()
      await db.drop()
    }
  })
})

describe('repair and drain write only what they are for', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await install(db.knex)
    // 500 parents of 4 children each, families 1..500: flat families, no grandchildren;
    // more users than repair's first batch, so that a pass takes several.
    await db.knex.raw(`INSERT INTO families (id, name) VALUES ${Array.from({ length: 1000 }, (_, i) => `(${i + 1}, 'f')`).join(', ')}`)
    await db.knex.raw(`INSERT INTO users (id, username, family_id) VALUES ${Array.from({ length: 500 }, (_, i) => `(${i + 1}, 'p', ${i + 1})`).join(', ')}`)
    await db.knex.raw(`INSERT INTO users (id, username, parent_id) VALUES ${Array.from({ length: 2000 }, (_, i) => `(${1000 + i}, 'c', ${(i % 500) + 1})`).join(', ')}`)
  })
  afterAll(() => db.drop())

  it('repair fixes every flat mismatch in one pass, its last batch included, and queues nothing by its own writes', async () => {
    // Out of step: most children, the highest id among them, so the last batch has work.
    await updateBypassingTriggers(db.knex, 'UPDATE users SET family_id = NULL WHERE id >= 1000 AND (id % 7 <> 0 OR id = 2999)')
    await db.knex.raw('DELETE FROM family_sync_queue')
    const out = await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM users WHERE id >= 1000 AND family_id IS NULL')
    const mismatches = Number(out[0].n)
    expect(mismatches).toBeGreaterThan(1500)
    const repair = await runCli(['repair', '--json', '--url', db.url])
    expect(repair.code, repair.stderr).toBe(0)
    const result = JSON.parse(repair.stdout)
    expect(result).toMatchObject({ fixed: mismatches, remaining: 0, pending: 0 })
    // Nothing here is a chain: a second pass would mean a batch of the first was skipped.
    expect(result.passes).toBe(1)
    expect(result.batches).toBeGreaterThan(1)
    expect(await mismatchCount(db.knex)).toBe(0)
    expect(Number((await rows<{ n: number }>(db.knex, "SELECT COUNT(*) AS n FROM family_sync_audit WHERE reason = 'repair'"))[0].n)).toBe(mismatches)
    // The children it wrote are in step with their parents: nothing for a drain to do.
    expect(await rows(db.knex, 'SELECT parent_id FROM family_sync_queue')).toEqual([])
  })

  it("a drain applies a parent's change and leaves no entry of its own writes behind", async () => {
    await db.knex.raw('UPDATE users SET family_id = family_id + 500 WHERE id IN (1, 2, 3)')
    expect((await rows<{ parent_id: number }>(db.knex, 'SELECT parent_id FROM family_sync_queue ORDER BY parent_id')).map((r) => r.parent_id)).toEqual([1, 2, 3])
    expect(await drain(db.knex)).toBe(3)
    expect(await rows(db.knex, 'SELECT parent_id FROM family_sync_queue')).toEqual([])
    expect(await rows(db.knex, 'SELECT DISTINCT family_id FROM users WHERE parent_id IN (1, 2, 3) ORDER BY family_id')).toEqual([{ family_id: 501 }, { family_id: 502 }, { family_id: 503 }])
  })
})
