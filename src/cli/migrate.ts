import type { Command } from 'commander'
import { migrations } from '../../migrations/index.js'
import { FamilySyncError, EXIT_OK } from '../errors.js'
import { createContext } from '../migrator/context.js'
import type { createMigrator as CreateMigrator } from '../migrator/create-migrator.js'
import { recordedMigrations } from '../migrator/recorded.js'
import { createProgress } from '../progress.js'
import { consoleReporter } from './reporter.js'
import { render } from './script.js'
import { parseWholeNumber, printJson, resolveTarget, withDatabase, type GlobalOptions } from './runtime.js'

const NAMES = migrations.map((m) => m.name)

function knownMigration(name: string): string {
  if (!NAMES.includes(name)) throw new FamilySyncError(`unknown migration '${name}': choose one of ${NAMES.join(', ')}`)
  return name
}

interface MigrateOptions extends GlobalOptions {
  to?: string
  step?: number
  dryRun?: boolean
  json?: boolean
  lockTimeout?: number
  batchMs?: number
}

// Umzug is loaded only when there is migrating to do: a deploy job's
// `migrate up` with nothing pending is the common case and should start fast.
async function loadCreateMigrator(): Promise<typeof CreateMigrator> {
  return (await import('../migrator/create-migrator.js')).createMigrator
}

async function migratorFor(knex: Parameters<typeof CreateMigrator>[0], options: MigrateOptions) {
  const createMigrator = await loadCreateMigrator()
  return createMigrator(knex, { reporter: consoleReporter, progress: createProgress(), lockTimeoutSeconds: options.lockTimeout, batchMs: options.batchMs })
}

export function registerMigrate(program: Command): void {
  const migrate = program.command('migrate').description('install, remove or list family-sync migrations')

  migrate
    .command('up')
    .description('run pending migrations (preflight, tables, triggers, drain procedure and event, backfill)')
    .option('--to <name>', 'stop after this migration', knownMigration)
    .option('--dry-run', 'run the read-only checks and print what would change, changing nothing')
    .option('--lock-timeout <seconds>', 'how long to wait for another migrate to finish', parseWholeNumber('--lock-timeout'), 120)
    .option('--batch-ms <ms>', 'target duration of one backfill transaction', parseWholeNumber('--batch-ms'), 100)
    .action(async (_args, command: Command) => {
      const options = command.optsWithGlobals<MigrateOptions>()
      // Everything recorded already: nothing to lock, nothing to run, no knex or Umzug to load.
      const recorded = await recordedMigrations(resolveTarget(options))
      const wanted = options.to ? NAMES.slice(0, NAMES.indexOf(options.to) + 1) : NAMES
      if (wanted.every((name) => recorded.has(name))) {
        consoleReporter.info('nothing to migrate: every migration has run')
        process.exitCode = EXIT_OK
        return
      }
      await withDatabase(options, async (knex) => {
        const migrator = await migratorFor(knex, options)
        if (options.dryRun) {
          const pending = (await migrator.pending()).map((m) => m.name)
          const upTo = options.to ? pending.slice(0, pending.indexOf(options.to) + 1) : pending
          if (upTo.length === 0) consoleReporter.info('nothing to migrate: every migration has run')
          for (const name of upTo) {
            const ctx = createContext('dry-run', knex, { reporter: consoleReporter })
            consoleReporter.info(`-- would run ${name}`)
            await migrations.find((m) => m.name === name)!.up(ctx)
            for (const statement of ctx.recorded) consoleReporter.info(render(statement))
          }
          return EXIT_OK
        }
        let startedAt = Date.now()
        migrator.on('migrating', () => void (startedAt = Date.now()))
        migrator.on('migrated', ({ name }) => consoleReporter.info(`migrated ${name} (${Date.now() - startedAt} ms)`))
        const ran = await migrator.up(options.to ? { to: options.to } : {})
        if (ran.length === 0) consoleReporter.info('nothing to migrate: every migration has run')
        return EXIT_OK
      })
    })

  migrate
    .command('down')
    .description('revert migrations: one step by default; the audit table and users are kept')
    .option('--to <name>', "revert down to and including this migration ('0' for all)", (v: string) => (v === '0' ? v : knownMigration(v)))
    .option('--step <n>', 'revert this many migrations', parseWholeNumber('--step'))
    .option('--lock-timeout <seconds>', 'how long to wait for another migrate to finish', parseWholeNumber('--lock-timeout'), 120)
    .action(async (_args, command: Command) => {
      const options = command.optsWithGlobals<MigrateOptions>()
      if (options.to !== undefined && options.step !== undefined) throw new FamilySyncError('give --to or --step, not both')
      await withDatabase(options, async (knex) => {
        const migrator = await migratorFor(knex, options)
        migrator.on('reverted', ({ name }) => consoleReporter.info(`reverted ${name}`))
        const target = options.to === '0' ? { to: 0 as const } : options.to ? { to: options.to } : { step: options.step ?? 1 }
        const reverted = await migrator.down(target)
        if (reverted.length === 0) consoleReporter.info('nothing to revert')
        return EXIT_OK
      })
    })

  migrate
    .command('status')
    .description('list executed and pending migrations')
    .option('--json', 'print {"executed": [...], "pending": [...]}')
    .action(async (_args, command: Command) => {
      const options = command.optsWithGlobals<MigrateOptions>()
      // Umzug's own answer, without loading it: what the storage table records, in its order.
      const recorded = await recordedMigrations(resolveTarget(options))
      const executed = [...recorded].sort()
      const pending = NAMES.filter((name) => !recorded.has(name))
      if (options.json) printJson({ executed, pending })
      else {
        for (const name of executed) consoleReporter.info(`executed  ${name}`)
        for (const name of pending) consoleReporter.info(`pending   ${name}`)
      }
      process.exitCode = EXIT_OK
    })
}
