// `npm run bench`: family-sync's figures against baselines measured in the same
// run on the same server, medians of repeated runs. BENCH_USERS scales the
// table (default 1,000,000), BENCH_RUNS the repetitions (default 3),
// BENCH_CONVERGE_SECONDS the convergence runs (default 30),
// BENCH_CONTENTION_SECONDS the contention runs (default 20), BENCH_QUIET_SECONDS
// the idle figures (default 60), BENCH_SERVE_SECONDS the serve sidecar's
// (default 600), BENCH_DATABASE_URL names the server (default
// mysql://root@127.0.0.1:3306), BENCH_ONLY picks figures by name
// (comma-separated: repair, repair-200k, sparse, memory, triggers, check,
// convergence, big-family, migrate, contention, batches, idle, serve).
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../src/paths.js'
import { bigFamilyFigures } from './big-family.js'
import { checkFigures } from './check.js'
import { log, RUNS, USERS } from './context.js'
import { convergenceFigures } from './convergence.js'
import { dropDatabase, freshDatabase, shapeOf } from './dataset.js'
import { markdownTable, type Figure } from './measure.js'
import { migrateNoopFigure } from './migrate.js'
import { memoryFigure, repairFigures, sparseFigure } from './repair.js'
import { triggerFigures } from './triggers.js'
import { contentionFigures } from './contention.js'
import { batchFigure } from './batches.js'
import { idleFigures } from './idle.js'
import { serveFigures } from './serve.js'

/** The repair figures at another scale, on a database of their own. */
async function repairAt(users: number): Promise<Figure[]> {
  const shape = shapeOf(users)
  const knex = await freshDatabase('family_sync_bench_repair', shape)
  try {
    return await repairFigures(knex, shape)
  } finally {
    await dropDatabase(knex, 'family_sync_bench_repair')
  }
}

async function main(): Promise<void> {
  const shape = shapeOf(USERS)
  const knex = await freshDatabase('family_sync_bench', shape)
  const [[{ version }]] = (await knex.raw('SELECT VERSION() AS version')) as [[{ version: string }]]
  const only = process.env.BENCH_ONLY?.split(',')
  const figures: Figure[] = []
  const steps: Array<[string, () => Promise<Figure | Figure[]>]> = [
    ['repair', () => repairFigures(knex, shape)],
    ['repair-200k', () => repairAt(200_000)],
    ['sparse', () => sparseFigure(shape)],
    ['memory', () => memoryFigure(knex, shape)],
    ['triggers', () => triggerFigures(knex, shape)],
    ['check', () => checkFigures(knex, shape)],
    ['convergence', () => convergenceFigures(knex, shape)],
    ['big-family', () => bigFamilyFigures()],
    ['migrate', () => migrateNoopFigure()],
    ['contention', () => contentionFigures()],
    ['batches', () => batchFigure()],
    ['idle', () => idleFigures()],
    ['serve', () => serveFigures('family_sync_bench')],
  ]
  try {
    for (const [name, step] of steps.filter(([name]) => !only || only.includes(name))) {
      try {
        figures.push(...[await step()].flat())
      } catch (error) {
        // One failed figure must not cost the others: it is reported as failed.
        log(`${name} failed: ${(error as Error).stack}`)
        figures.push({ figure: name, baseline: '—', ours: `failed: ${(error as Error).message.split('\n')[0]}`, ratio: '—', target: '—', met: false })
      }
    }
  } finally {
    await dropDatabase(knex, 'family_sync_bench')
  }
  const head = [
    '# family-sync benchmark results',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    `- server: ${version}`,
    `- data: ${shape.users} users (${shape.parents} parents with families, ${shape.children} children, ${shape.children / 2} mismatched); ${RUNS} runs per figure, medians; baselines measured in the same run`,
    '',
  ]
  const report = [...head, markdownTable(figures), ''].join('\n')
  process.stdout.write(report)
  if (!only) writeFileSync(join(packageRoot(), 'bench', 'RESULTS.md'), report)
}

await main()
