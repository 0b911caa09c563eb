import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../src/paths.js'
import { CLI, RUNS, SERVER } from './context.js'
import { fmtMs, median, type Figure } from './measure.js'

function wholeProcessMs(command: string[]): number {
  const started = process.hrtime.bigint()
  const run = spawnSync(command[0], command.slice(1), { cwd: packageRoot(), encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`${command.join(' ')} exited ${run.status}: ${run.stderr}`)
  return Number(process.hrtime.bigint() - started) / 1e6
}

/** `migrate up` with nothing pending against knex's own migrate:latest with nothing pending, whole processes. */
export async function migrateNoopFigure(): Promise<Figure> {
  // Inside the package: the knex CLI looks for knex next to the knexfile.
  const dir = mkdtempSync(join(packageRoot(), 'bench', '.knex-'))
  mkdirSync(join(dir, 'migrations'))
  writeFileSync(join(dir, 'migrations', '001_noop.cjs'), 'exports.up = async () => {}\nexports.down = async () => {}\n')
  writeFileSync(
    join(dir, 'knexfile.cjs'),
    `module.exports = { client: 'mysql2', connection: ${JSON.stringify(`${SERVER}/family_sync_bench`)}, migrations: { directory: ${JSON.stringify(join(dir, 'migrations'))}, tableName: 'knex_bench_migrations' } }\n`,
  )
  const knexCli = [process.execPath, join(packageRoot(), 'node_modules', 'knex', 'bin', 'cli.js'), 'migrate:latest', '--knexfile', join(dir, 'knexfile.cjs')]
  const ours = [process.execPath, CLI, 'migrate', 'up', '--url', `${SERVER}/family_sync_bench`]
  wholeProcessMs(knexCli)
  wholeProcessMs(ours)
  const base: number[] = []
  const mine: number[] = []
  for (let run = 0; run < Math.max(7, RUNS * 2); run++) {
    base.push(wholeProcessMs(knexCli))
    mine.push(wholeProcessMs(ours))
  }
  rmSync(dir, { recursive: true, force: true })
  const ratio = median(mine) / median(base)
  return { figure: '`migrate up` with nothing pending (lock, versioned and repeatable checks), whole process', baseline: `${fmtMs(median(base))} (knex migrate:latest, nothing pending)`, ours: fmtMs(median(mine)), ratio: ratio.toFixed(2), target: '<= 1.0', met: ratio <= 1.0 }
}
