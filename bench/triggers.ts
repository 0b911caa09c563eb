import type { Knex } from 'knex'
import { log, RUNS } from './context.js'
import { dropTriggers, installTriggers, type Shape } from './dataset.js'
import { fmtMs, median, type Figure } from './measure.js'

// Triggers with empty bodies, reading no table: what the server charges for
// any trigger on users, whatever it does. Each workload's floor has triggers
// of the same timing and event as family-sync's.
const EMPTY = {
  insert: [
    'CREATE TRIGGER family_sync_bench_empty_insert BEFORE INSERT ON users FOR EACH ROW SET NEW.family_id = NEW.family_id',
    'CREATE TRIGGER family_sync_bench_empty_after_insert AFTER INSERT ON users FOR EACH ROW SET @family_sync_bench_empty = NULL',
  ],
  update: [
    'CREATE TRIGGER family_sync_bench_empty_before BEFORE UPDATE ON users FOR EACH ROW SET NEW.family_id = NEW.family_id',
    'CREATE TRIGGER family_sync_bench_empty_after AFTER UPDATE ON users FOR EACH ROW SET @family_sync_bench_empty = NULL',
  ],
}
const DROP_EMPTY = ['family_sync_bench_empty_insert', 'family_sync_bench_empty_after_insert', 'family_sync_bench_empty_before', 'family_sync_bench_empty_after'].map((t) => `DROP TRIGGER IF EXISTS ${t}`)

interface Workload {
  name: string
  /** One statement of the loop, with `i` the loop counter. */
  statement: string
  floor: keyof typeof EMPTY
  /** µs of server time per statement above the floor this workload should stay within. */
  aboveFloor?: number
}

/**
 * Server time per statement: each workload runs as a loop inside the server
 * (a stored procedure, one transaction, rolled back), timed there, so what
 * is measured is the server's work for the statement and its triggers, not
 * the round trip, which on a loaded two-core machine swings by tens of µs.
 */
async function serverMicros(knex: Knex, statement: string, count: number): Promise<number> {
  await knex.raw('DROP PROCEDURE IF EXISTS family_sync_bench_loop')
  await knex.raw(`CREATE PROCEDURE family_sync_bench_loop(n INT)
    BEGIN
      DECLARE i INT DEFAULT 0;
      START TRANSACTION;
      WHILE i < n DO
        ${statement};
        SET i = i + 1;
      END WHILE;
      ROLLBACK;
    END`)
  const connection = await knex.client.acquireConnection()
  try {
    await knex.raw('SET @family_sync_bench_t = SYSDATE(6)').connection(connection)
    await knex.raw('CALL family_sync_bench_loop(?)', [count]).connection(connection)
    const [[{ us }]] = (await knex.raw('SELECT TIMESTAMPDIFF(MICROSECOND, @family_sync_bench_t, SYSDATE(6)) AS us').connection(connection)) as [[{ us: number }]]
    return Number(us) / count
  } finally {
    await knex.client.releaseConnection(connection)
    await knex.raw('DROP PROCEDURE IF EXISTS family_sync_bench_loop')
  }
}

export async function triggerFigures(knex: Knex, shape: Shape): Promise<Figure[]> {
  const count = Math.min(100_000, shape.children)
  const s = shape.stride.toString()
  const P = shape.parents
  const workloads: Workload[] = [
    { name: 'child insert', statement: `INSERT INTO users (username, parent_id) VALUES ('bench', ((i % ${P}) + 1) * ${s})`, floor: 'insert', aboveFloor: 15 },
    { name: 'child update of another column', statement: `UPDATE users SET username = 'renamed' WHERE id = (${P} + 1 + i) * ${s}`, floor: 'update' },
    { name: 'child re-parenting', statement: `UPDATE users SET parent_id = (((i + 7) % ${P}) + 1) * ${s} WHERE id = (${P} + 1 + i) * ${s}`, floor: 'update', aboveFloor: 25 },
  ]
  const figures: Figure[] = []
  for (const work of workloads) {
    const base: number[] = []
    const floor: number[] = []
    const ours: number[] = []
    for (let run = 0; run < RUNS; run++) {
      await dropTriggers(knex)
      base.push(await serverMicros(knex, work.statement, count))
      for (const sql of EMPTY[work.floor]) await knex.raw(sql)
      floor.push(await serverMicros(knex, work.statement, count))
      for (const sql of DROP_EMPTY) await knex.raw(sql)
      await installTriggers(knex)
      ours.push(await serverMicros(knex, work.statement, count))
      log(`${work.name} × ${count}, run ${run + 1}: ${base.at(-1)!.toFixed(2)} µs without triggers, ${floor.at(-1)!.toFixed(2)} with empty ones, ${ours.at(-1)!.toFixed(2)} with ours`)
    }
    const above = median(ours) - median(floor)
    figures.push({
      figure: `${work.name}, server time per statement above the empty-trigger floor (${count} in one transaction)`,
      baseline: `${median(base).toFixed(1)} µs without triggers, ${median(floor).toFixed(1)} µs with empty ones (+${(median(floor) - median(base)).toFixed(1)})`,
      ours: `${median(ours).toFixed(1)} µs (+${above.toFixed(1)} above the floor)`,
      ratio: (median(ours) / median(base)).toFixed(2),
      target: work.aboveFloor ? `<= +${work.aboveFloor} µs` : 'reported',
      met: work.aboveFloor ? above <= work.aboveFloor : true,
    })
  }
  // Set-based: one statement, no round trips, the per-row trigger in full view.
  const setBased = async () => {
    const started = process.hrtime.bigint()
    await knex.transaction(async (trx) => {
      await trx.raw('SET SESSION max_recursive_iterations = 10000000').catch(() => {})
      await trx.raw('SET SESSION cte_max_recursion_depth = 10000000').catch(() => {})
      await trx.raw(`INSERT INTO users (username, parent_id)
        WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${count})
        SELECT CONCAT('bench ', n), ((n % ${P}) + 1) * ${s} FROM seq`)
      await trx.rollback()
    }).catch(() => {})
    return Number(process.hrtime.bigint() - started) / 1e6
  }
  const base: number[] = []
  const ours: number[] = []
  for (let run = 0; run < RUNS; run++) {
    await dropTriggers(knex)
    base.push(await setBased())
    await installTriggers(knex)
    ours.push(await setBased())
  }
  figures.push({ figure: `${count} child inserts in one INSERT ... SELECT (set-based)`, baseline: `${fmtMs(median(base))} without triggers`, ours: fmtMs(median(ours)), ratio: (median(ours) / median(base)).toFixed(2), target: 'reported', met: true })
  return figures
}
