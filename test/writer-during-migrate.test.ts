import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, serverKnex, type TestDatabase } from './helpers/database.js'
import { mismatchCount } from './helpers/family.js'
import { drain } from './helpers/install.js'
import { populate } from './helpers/populate.js'

const PARENTS = 5000
const CHILDREN_PER_PARENT = 4

describe('application writes while migrate up runs on a populated database', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await populate(db.knex, PARENTS, CHILDREN_PER_PARENT)
  })
  afterAll(() => db.drop())

  it('no application statement fails, and afterwards, after a drain, nothing is mismatched', async () => {
    expect(await mismatchCount(db.knex)).toBe((PARENTS * CHILDREN_PER_PARENT) / 2)
    const writers = Array.from({ length: 3 }, () => serverKnex(db.name))
    const failures: string[] = []
    let statements = 0
    let stop = false
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return (seed % n) + 1
    }
    const loops = writers.map(async (knex) => {
      while (!stop) {
        const op = random(4)
        const sql =
          op === 1 ? ['INSERT INTO users (username, parent_id) VALUES (?, ?)', ['writer child', random(PARENTS)]]
          : op === 2 ? ['UPDATE users SET family_id = ? WHERE id = ?', [random(PARENTS), random(PARENTS)]]
          : op === 3 ? ['UPDATE users SET family_id = NULL WHERE id = ?', [PARENTS + random(PARENTS * CHILDREN_PER_PARENT)]]
          : ['UPDATE users SET parent_id = ? WHERE id = ?', [random(PARENTS), PARENTS + random(PARENTS * CHILDREN_PER_PARENT)]]
        try {
          await knex.raw(sql[0] as string, sql[1] as number[])
          statements++
        } catch (error) {
          failures.push((error as Error).message)
        }
      }
    })
    // A bound against a hang, not a figure: beside three writers that never pause, on a busy
    // two-core machine, the backfill's batches stay small.
    const up = await runCli(['migrate', 'up', '--batch-ms', '20', '--url', db.url], { timeoutMs: 240_000 })
    // Keep writing a little after the install, through the triggers.
    await new Promise((resolve) => setTimeout(resolve, 500))
    stop = true
    await Promise.all(loops)
    await Promise.all(writers.map((w) => w.destroy()))

    expect(up.code, up.stderr).toBe(0)
    expect(failures).toEqual([])
    expect(statements).toBeGreaterThan(100)
    await drain(db.knex)
    expect(await mismatchCount(db.knex)).toBe(0)
  }, 300_000)
})
