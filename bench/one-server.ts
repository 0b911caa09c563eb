// The figures of one server, the one BENCH_DATABASE_URL names, as a markdown
// section on stdout (bench/run.ts runs this once per server). Each figure is
// measured against a baseline in the same run on the same server, medians of
// repeated runs; see bench/run.ts for the settings.
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
    `## ${process.env.BENCH_SERVER_LABEL ?? version}`,
    '',
    `- server: ${version}`,
    `- data: ${shape.users} users (${shape.parents} parents with families, ${shape.children} children, ${shape.children / 2} mismatched); ${RUNS} runs per figure, medians; baselines measured in the same run`,
    '',
  ]
  process.stdout.write([...head, markdownTable(figures), '', ''].join('\n'))
}

await main()
