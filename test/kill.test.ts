import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, startCli } from './helpers/cli.js'
import { createTestDatabase, rows, type TestDatabase } from './helpers/database.js'
import { mismatchCount } from './helpers/family.js'
import { populate } from './helpers/populate.js'

const KILLS = 4

async function auditCount(db: TestDatabase): Promise<number> {
  const [row] = await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM family_sync_audit').catch(() => [{ n: 0 }])
  return Number(row.n)
}

async function killWhen(db: TestDatabase, args: string[], ready: () => Promise<boolean>, extraDelayMs: number): Promise<boolean> {
  const child = startCli(args)
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
  const deadline = Date.now() + 60_000
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await new Promise((resolve) => setTimeout(resolve, extraDelayMs))
  const running = child.exitCode === null && child.signalCode === null
  child.kill('SIGKILL')
  await closed
  return running
}

describe('kill -9 during the backfill', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await populate(db.knex, 4000, 5)
  })
  afterAll(() => db.drop())

  it(`${KILLS} kills at random points: a rerun completes, one exact audit row per changed row, nothing else changed`, async () => {
    const before = await rows<{ id: number; username: string; parent_id: number | null; family_id: number | null }>(db.knex, 'SELECT id, username, parent_id, family_id FROM users ORDER BY id')
    const mismatched = await mismatchCount(db.knex)
    expect(mismatched).toBe(10_000)
    const args = ['migrate', 'up', '--batch-ms', '5', '--url', db.url]
    let kills = 0
    for (let i = 0; i < KILLS; i++) {
      const audited = await auditCount(db)
      if (audited >= mismatched) break
      // Somewhere inside the backfill: after it has written, at a random offset.
      if (await killWhen(db, args, async () => (await auditCount(db)) > audited, Math.floor(Math.random() * 40))) kills++
    }
    expect(kills).toBeGreaterThanOrEqual(2)
    expect(await auditCount(db)).toBeLessThan(mismatched)

    // The rerun at the default batch time: 5 ms batches, there for the kills to land between
    // commits, crawl where each commit costs a few fsyncs (MySQL's sync_binlog=1 on a busy disk).
    const rerun = await runCli(['migrate', 'up', '--url', db.url], { timeoutMs: 180_000 })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(await mismatchCount(db.knex)).toBe(0)

    const after = await rows<{ id: number; username: string; parent_id: number | null; family_id: number | null }>(db.knex, 'SELECT id, username, parent_id, family_id FROM users ORDER BY id')
    const audit = await rows<{ user_id: number; old_family_id: number | null; new_family_id: number; n: number }>(
      db.knex,
      'SELECT user_id, MIN(old_family_id) AS old_family_id, MIN(new_family_id) AS new_family_id, COUNT(*) AS n FROM family_sync_audit GROUP BY user_id',
    )
    const byUser = new Map(audit.map((a) => [Number(a.user_id), a]))
    let changed = 0
    for (let i = 0; i < after.length; i++) {
      expect({ ...after[i], family_id: 0 }).toEqual({ ...before[i], family_id: 0 })
      const entry = byUser.get(after[i].id)
      if (after[i].family_id !== before[i].family_id) {
        changed++
        expect(entry, `user ${after[i].id}`).toBeDefined()
        expect(Number(entry!.n)).toBe(1)
        expect(entry!.old_family_id).toBe(before[i].family_id)
        expect(entry!.new_family_id).toBe(after[i].family_id)
      } else {
        expect(entry, `user ${after[i].id} unchanged but audited`).toBeUndefined()
      }
    }
    expect(changed).toBe(mismatched)
  }, 400_000)
})

describe('kill -9 during migrate up, between objects', () => {
  async function storedObjects(db: TestDatabase): Promise<number> {
    const [row] = await rows<{ n: number }>(
      db.knex,
      `SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE())
            + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()) AS n`,
    )
    return Number(row.n)
  }

  it('once some of the objects exist, at several points: a rerun completes and verify exits 0', async () => {
    const killedAt: number[] = []
    for (const present of [1, 2, 4, 6]) {
      const db = await createTestDatabase()
      try {
        await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'f')")
        await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'p', 1)")
        await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'c', 1)")
        const args = ['migrate', 'up', '--url', db.url]
        const killed = await killWhen(db, args, async () => (await storedObjects(db)) >= present, 0)
        // The kill landed on a running migrate up that had made some of the objects.
        expect(killed, `migrate up ended before ${present} objects existed`).toBe(true)
        const existed = await storedObjects(db)
        expect(existed).toBeGreaterThanOrEqual(present)
        killedAt.push(existed)
        // The rerun at the default batch time: 5 ms batches, there for the kills to land between
    // commits, crawl where each commit costs a few fsyncs (MySQL's sync_binlog=1 on a busy disk).
    const rerun = await runCli(['migrate', 'up', '--url', db.url], { timeoutMs: 180_000 })
        expect(rerun.code, `killed with ${existed} objects: ${rerun.stderr}`).toBe(0)
        const verify = await runCli(['verify', '--json', '--url', db.url])
        expect(verify.code, `killed with ${existed} objects: ${verify.stdout}`).toBe(0)
        expect(await mismatchCount(db.knex)).toBe(0)
      } finally {
        await db.drop()
      }
    }
    console.log(`migrate up killed with ${killedAt.join(', ')} of its triggers and procedures in place`)
  }, 120_000)
})
