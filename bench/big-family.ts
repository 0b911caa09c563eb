import type { Knex } from 'knex'
import { shippedCatalogue } from '../src/db/catalogue.js'
import { connect, log, withEventScheduler } from './context.js'
import { dropDatabase, freshDatabase, shapeOf } from './dataset.js'
import { fmtMs, type Figure } from './measure.js'

/**
 * A parent with N children changes family, with the event ON, while a writer
 * keeps updating other children of that parent (one statement at a time):
 * how long until every child follows, and the writer's longest wait.
 */
async function bigFamily(knex: Knex, parent: number, children: number): Promise<Figure> {
  const writer = connect('family_sync_bench_big', 1)
  const first = parent * 1_000_000
  const waits: number[] = []
  let stop = false
  const writing = (async () => {
    for (let i = 0; !stop; i++) {
      const child = first + 1 + Math.floor(Math.random() * children)
      const t = process.hrtime.bigint()
      await writer.raw('UPDATE users SET username = ? WHERE id = ?', [`writer ${i}`, child])
      waits.push(Number(process.hrtime.bigint() - t) / 1e6)
    }
  })()
  let converged = Infinity
  let before = 0
  try {
    await new Promise((resolve) => setTimeout(resolve, 500))
    before = waits.length
    const started = Date.now()
    await knex.raw('UPDATE users SET family_id = 2 WHERE id = ?', [parent])
    while (Date.now() - started < 120_000) {
      const [[{ n }]] = (await knex.raw('SELECT COUNT(*) AS n FROM users WHERE parent_id = ? AND NOT (family_id <=> 2)', [parent])) as [[{ n: number }]]
      if (Number(n) === 0) {
        converged = Date.now() - started
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  } finally {
    stop = true
    await writing
    await writer.destroy()
  }
  const during = waits.slice(before)
  const longest = Math.max(...during)
  log(`big family of ${children}: converged in ${fmtMs(converged)}, writer's longest wait ${fmtMs(longest)} over ${during.length} statements`)
  return {
    figure: `a parent with ${children} children changes family while a writer updates its other children, event ON`,
    baseline: `converged in ${fmtMs(converged)}`,
    ours: `writer's longest wait ${fmtMs(longest)} (${during.length} statements)`,
    ratio: '—',
    target: 'wait <= 250 ms',
    met: longest <= 250 && Number.isFinite(converged),
  }
}

export async function bigFamilyFigures(): Promise<Figure[]> {
  const knex = await freshDatabase('family_sync_bench_big', shapeOf(10))
  try {
    for (const [parent, children] of [[1, 20_000], [2, 100_000]]) {
      await knex.raw('UPDATE users SET family_id = 1 WHERE id = ?', [parent])
      await knex.transaction(async (trx) => {
        await trx.raw('SET SESSION max_recursive_iterations = 10000000').catch(() => {})
        await trx.raw('SET SESSION cte_max_recursion_depth = 10000000').catch(() => {})
        await trx.raw(`INSERT INTO users (id, username, parent_id, family_id)
          WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${children})
          SELECT ${parent * 1_000_000} + n, CONCAT('kid ', n), ${parent}, 1 FROM seq`)
      })
    }
    await knex.raw(shippedCatalogue().createStatement('family_sync_drain_every_second'))
    return await withEventScheduler(async () => [await bigFamily(knex, 1, 20_000), await bigFamily(knex, 2, 100_000)])
  } finally {
    await knex.raw('DROP EVENT IF EXISTS family_sync_drain_every_second')
    await dropDatabase(knex, 'family_sync_bench_big')
  }
}
