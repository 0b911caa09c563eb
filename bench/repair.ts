import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { Knex } from 'knex'
import { repairFamilyIds } from '../src/library.js'
import { CLI, log, RUNS, SERVER } from './context.js'
import { dropDatabase, freshDatabase, resetMismatches, shapeOf, type Shape } from './dataset.js'
import { fmtMs, median, timed, type Figure } from './measure.js'

// The bug report's repair: one statement, no audit.
const REPORT_REPAIR = `UPDATE users c JOIN users p ON c.parent_id = p.id SET c.family_id = p.family_id
  WHERE (c.family_id IS NULL OR c.family_id != p.family_id) AND p.family_id IS NOT NULL`

async function ourRepair(knex: Knex, shape: Shape): Promise<{ ms: number; maxBatchMs: number }> {
  const { ms, value } = await timed(() => repairFamilyIds(knex, { batchMs: 100 }))
  if (value.fixed !== shape.children / 2) throw new Error(`repair fixed ${value.fixed}, expected ${shape.children / 2}`)
  return { ms, maxBatchMs: value.maxBatchMs }
}

/**
 * family-sync's repair against the report's one-statement UPDATE with the
 * triggers installed (what a DBA would otherwise run), and against the same
 * UPDATE on a table with no triggers at all: the physical floor.
 */
export async function repairFigures(knex: Knex, shape: Shape): Promise<Figure[]> {
  const report: number[] = []
  const floor: number[] = []
  const ours: number[] = []
  let maxBatch = 0
  for (let run = 0; run < RUNS; run++) {
    await resetMismatches(knex, shape)
    report.push((await timed(() => knex.raw(REPORT_REPAIR))).ms)
    await resetMismatches(knex, shape, { triggers: false })
    floor.push((await timed(() => knex.raw(REPORT_REPAIR))).ms)
    await resetMismatches(knex, shape)
    const result = await ourRepair(knex, shape)
    ours.push(result.ms)
    maxBatch = Math.max(maxBatch, result.maxBatchMs)
    log(`repair run ${run + 1}: report's UPDATE ${fmtMs(report.at(-1)!)}, no-trigger floor ${fmtMs(floor.at(-1)!)}, ours ${fmtMs(result.ms)} (longest batch ${result.maxBatchMs} ms)`)
  }
  const vsReport = median(ours) / median(report)
  const vsFloor = median(ours) / median(floor)
  return [
    { figure: `repair of ${shape.children / 2} mismatches, audited, triggers installed`, baseline: `${fmtMs(median(report))} (report's one-statement UPDATE JOIN, triggers installed, no audit)`, ours: fmtMs(median(ours)), ratio: vsReport.toFixed(2), target: '<= 1.0', met: vsReport <= 1.0 },
    { figure: `the same repair of ${shape.children / 2} against the physical floor`, baseline: `${fmtMs(median(floor))} (the same UPDATE JOIN on users with no triggers)`, ours: fmtMs(median(ours)), ratio: vsFloor.toFixed(2), target: '<= 1.5', met: vsFloor <= 1.5 },
    { figure: `longest repair batch (${shape.users} users)`, baseline: '—', ours: `${maxBatch} ms`, ratio: '—', target: '<= 250 ms', met: maxBatch <= 250 },
  ]
}

/** The same rows with ids spread over 2^62: repair follows the rows, not the span. */
export async function sparseFigure(shape: Shape): Promise<Figure> {
  const rows = Math.min(shape.users, 200_000)
  const dense = shapeOf(rows)
  const sparse = shapeOf(rows, 2n ** 62n / BigInt(rows))
  const denseKnex = await freshDatabase('family_sync_bench_dense', dense)
  const sparseKnex = await freshDatabase('family_sync_bench_sparse', sparse)
  const a: number[] = []
  const b: number[] = []
  try {
    for (let run = 0; run < RUNS; run++) {
      await resetMismatches(denseKnex, dense)
      a.push((await ourRepair(denseKnex, dense)).ms)
      await resetMismatches(sparseKnex, sparse)
      b.push((await ourRepair(sparseKnex, sparse)).ms)
      log(`sparse run ${run + 1}: dense ${fmtMs(a.at(-1)!)}, sparse ${fmtMs(b.at(-1)!)}`)
    }
  } finally {
    await dropDatabase(denseKnex, 'family_sync_bench_dense')
    await dropDatabase(sparseKnex, 'family_sync_bench_sparse')
  }
  const ratio = median(b) / median(a)
  return { figure: `repair of ${dense.children / 2} mismatches, ids spread over 2^62 (stride ${sparse.stride})`, baseline: `${fmtMs(median(a))} (the same rows, ids 1..${dense.users})`, ours: fmtMs(median(b)), ratio: ratio.toFixed(2), target: '<= 1.2', met: ratio <= 1.2 }
}

/** Peak resident memory of a whole `family-sync repair` process, read from /proc while it runs. */
async function peakRssOfRepair(database: string): Promise<number> {
  const child = spawn(process.execPath, [CLI, 'repair', '--json', '--url', `${SERVER}/${database}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let peak = 0
  const poll = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
      if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024)
    } catch {
      // gone already
    }
  }, 20)
  await new Promise((resolve) => child.on('close', resolve))
  clearInterval(poll)
  return peak
}

export async function memoryFigure(knex: Knex, shape: Shape): Promise<Figure> {
  const small = shapeOf(Math.floor(shape.users / 4))
  const smallKnex = await freshDatabase('family_sync_bench_quarter', small)
  await resetMismatches(smallKnex, small)
  await resetMismatches(knex, shape)
  const quarter = await peakRssOfRepair('family_sync_bench_quarter')
  const full = await peakRssOfRepair('family_sync_bench')
  await dropDatabase(smallKnex, 'family_sync_bench_quarter')
  const ratio = full / quarter
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
  return { figure: `repair process peak memory, ${shape.users} vs ${small.users} users`, baseline: `${mb(quarter)} at ${small.users}`, ours: `${mb(full)} at ${shape.users}`, ratio: ratio.toFixed(2), target: 'flat (<= 1.2)', met: ratio <= 1.2 }
}
