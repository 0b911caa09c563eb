import { describe, expect, it } from 'vitest'
import { pruneAudit } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, rows, serverKnex } from './helpers/database.js'
import { install } from './helpers/install.js'

describe('family-sync prune', () => {
  it('deletes only audit rows older than the cutoff, in batches, changing nothing with --dry-run and never waiting for users', async () => {
    const db = await createTestDatabase()
    const holder = serverKnex(db.name)
    try {
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
      await install(db.knex)
      // 4,000 rows from 40 days ago, 1,000 from 10 days ago, 500 from now, in time order.
      await db.knex.transaction(async (trx) => {
        await trx.raw('SET SESSION max_recursive_iterations = 100000').catch(() => {})
        await trx.raw('SET SESSION cte_max_recursion_depth = 100000').catch(() => {})
        const seq = (n: number) => `WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${n})`
        for (const [count, days] of [[4000, 40], [1000, 10], [500, 0]]) {
          await trx.raw(`INSERT INTO family_sync_audit (user_id, old_family_id, new_family_id, reason, changed_at) ${seq(count)} SELECT n, NULL, 1, 'drain', NOW(3) - INTERVAL ${days} DAY FROM seq`)
        }
      })
      const dry = await runCli(['prune', '--older-than', '30', '--dry-run', '--json', '--url', db.url])
      expect(dry.code, dry.stderr).toBe(0)
      expect(JSON.parse(dry.stdout)).toMatchObject({ deleted: 4000, dryRun: true, batches: 0 })
      expect(Number((await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM family_sync_audit'))[0].n)).toBe(5500)

      // An application transaction holds every row of users until prune is done: prune never
      // touches users, so it finishes meanwhile (were it to wait, it would never finish).
      let release = () => {}
      const held = new Promise<void>((resolve) => (release = resolve))
      let locked = () => {}
      const holds = new Promise<void>((resolve) => (locked = resolve))
      const holding = holder.transaction(async (trx) => {
        await trx.raw('SELECT id FROM users FOR UPDATE')
        locked()
        await held
      })
      await holds
      const pruned = await runCli(['prune', '--older-than', '30', '--batch-ms', '5', '--json', '--url', db.url], { timeoutMs: 30_000 })
      release()
      expect(pruned.code, pruned.stderr).toBe(0)
      const result = JSON.parse(pruned.stdout)
      expect(result).toMatchObject({ deleted: 4000, dryRun: false })
      expect(result.batches).toBeGreaterThan(1)
      await holding
      const left = await rows<{ days: number; n: number }>(db.knex, 'SELECT DATEDIFF(NOW(), changed_at) AS days, COUNT(*) AS n FROM family_sync_audit GROUP BY days ORDER BY days')
      expect(left.map((r) => [Number(r.days), Number(r.n)])).toEqual([[0, 500], [10, 1000]])

      // The library does the same; nothing older than 5 days is left after it.
      expect(await pruneAudit(db.knex, { olderThanDays: 5 })).toMatchObject({ deleted: 1000 })
      expect((await runCli(['prune', '--older-than', '5', '--url', db.url])).stdout).toMatch(/^deleted 0 audit rows changed before /)
    } finally {
      await holder.destroy()
      await db.drop()
    }
  })

  it('cuts at exactly N days: a row an hour older goes, a row an hour younger stays', async () => {
    const db = await createTestDatabase()
    try {
      await install(db.knex)
      // Two rows either side of each cutoff, an hour from it: a cut a day off (N + 1 or N - 1) moves one of them.
      for (const [userId, hours] of [[1, 30 * 24 + 1], [2, 30 * 24 - 1], [3, 5 * 24 + 1], [4, 5 * 24 - 1]]) {
        await db.knex.raw("INSERT INTO family_sync_audit (user_id, old_family_id, new_family_id, reason, changed_at) VALUES (?, NULL, 1, 'drain', NOW(3) - INTERVAL ? HOUR)", [userId, hours])
      }
      const left = async () => (await rows<{ user_id: number }>(db.knex, 'SELECT user_id FROM family_sync_audit ORDER BY user_id')).map((r) => Number(r.user_id))
      const dry = await runCli(['prune', '--older-than', '30', '--dry-run', '--json', '--url', db.url])
      expect(JSON.parse(dry.stdout)).toMatchObject({ deleted: 1, dryRun: true })
      const cli = await runCli(['prune', '--older-than', '30', '--json', '--url', db.url])
      expect(cli.code, cli.stderr).toBe(0)
      expect(JSON.parse(cli.stdout)).toMatchObject({ deleted: 1 })
      expect(await left()).toEqual([2, 3, 4])
      expect(await pruneAudit(db.knex, { olderThanDays: 5 })).toMatchObject({ deleted: 2 })
      expect(await left()).toEqual([4])
    } finally {
      await db.drop()
    }
  })

  it('--older-than is required and must be a whole number of days', async () => {
    for (const args of [['prune'], ['prune', '--older-than', 'soon'], ['prune', '--older-than', '-3']]) {
      const result = await runCli([...args, '--url', 'mysql://root@127.0.0.1:1/x'])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stdout).toBe('')
    }
  })
})
