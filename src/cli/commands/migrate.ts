import type { Command } from 'commander'
import { MIGRATION_NAMES } from '../../../migrations/index.js'
import { BATCH_MS, LOCK_TIMEOUT_SECONDS, LOCK_WAIT_SECONDS } from '../../defaults.js'
import { EXIT_OK, FamilySyncError } from '../../errors.js'
import type { MigrationStatus, MigratorOptions } from '../../migrator/migrator.js'
import { createProgress } from '../../progress.js'
import { wholeNumber } from '../options.js'
import { consoleReporter, document, line, printJson } from '../output.js'
import { withConnection, type GlobalOptions } from '../runtime.js'

function knownMigration(name: string): string {
  if (!MIGRATION_NAMES.includes(name)) throw new FamilySyncError(`unknown migration '${name}': choose one of ${MIGRATION_NAMES.join(', ')}`)
  return name
}

interface MigrateFlags extends GlobalOptions {
  to?: string
  step?: number
  dryRun?: boolean
  json?: boolean
  lockWait: number
  lockTimeout: number
  batchMs: number
  dropForeignTrigger: string[]
  force?: boolean
  definer?: string
  allowMissingIndex?: boolean
}

function migratorOptions(flags: MigrateFlags, infoToStderr = false): MigratorOptions {
  return {
    reporter: consoleReporter({ infoToStderr }),
    progress: createProgress(),
    lockWaitSeconds: flags.lockWait,
    lockTimeoutSeconds: flags.lockTimeout,
    batchMs: flags.batchMs,
  }
}

const lockOptions = (command: Command) =>
  command
    .option('--lock-wait <seconds>', "how long one DDL statement waits for the application's table locks before stepping aside and retrying", wholeNumber('--lock-wait', 1, 3600), LOCK_WAIT_SECONDS)
    .option('--lock-timeout <seconds>', 'how long to wait for another migrate, and for locks in all, before giving up', wholeNumber('--lock-timeout', 0, 86400), LOCK_TIMEOUT_SECONDS)
    .option('--force', 'run on a read-only server or a replica anyway')

export function registerMigrate(program: Command): void {
  const migrate = program
    .command('migrate')
    .description('install, upgrade, remove or list family-sync migrations and stored objects')
    // Its own action, for one clear line when the subcommand is missing or unknown; help stays a command.
    .helpCommand(true)
    .allowExcessArguments(true)
    .action((_options, command: Command) => {
      const [given] = command.args
      throw new FamilySyncError(given ? `unknown migrate command '${given}': use up, down or status (see family-sync migrate --help)` : 'migrate needs a command: up, down or status (see family-sync migrate --help)')
    })

  lockOptions(
    migrate
      .command('up')
      .description('run pending migrations, then bring every stored object up to date with triggers/ (missing, changed, disabled, or owned by a dropped account)')
      .option('--to <name>', 'stop after this migration', knownMigration)
      .option('--dry-run', 'check, and print what would run as a mysql-client script (notes as -- comments); change nothing')
      .option('--drop-foreign-trigger <name>', 'drop this trigger on users, which is not family-sync\'s and writes users (repeatable)', (v: string, all: string[]) => [...all, v], [] as string[])
      .option('--batch-ms <ms>', 'target duration of one backfill transaction', wholeNumber('--batch-ms', 1, 60_000), BATCH_MS)
      .option('--definer <account>', 'install every trigger, procedure and event for this account (user@host), e.g. a definer account holding only what the drain needs')
      .option('--allow-missing-index', 'install even though users.parent_id or users.family_id has no index (verify and check keep reporting it)'),
  ).action(async (_options, command: Command) => {
    const flags = command.optsWithGlobals<MigrateFlags>()
    await withConnection(flags, async (session) => {
      const { upOnSession } = await import('../../migrator/migrator.js')
      const result = await upOnSession(
        session,
        { to: flags.to, dryRun: flags.dryRun, dropForeignTriggers: flags.dropForeignTrigger, force: flags.force, definer: flags.definer, allowMissingIndex: flags.allowMissingIndex },
        migratorOptions(flags, flags.dryRun),
      )
      if (flags.dryRun) document(result.script ?? '')
      else if (result.migrations.length === 0 && result.objects.length === 0 && result.droppedTriggers.length === 0) line('nothing to migrate: every migration has run and every stored object matches triggers/')
      return EXIT_OK
    })
  })

  lockOptions(
    migrate
      .command('down')
      .description('revert migrations, one by default; the audit table and users are kept. Stops before removing anything while queued work fails to apply')
      .option('--to <name>', "revert down to and including this migration ('0' for all)", (v: string) => (v === '0' ? v : knownMigration(v)))
      .option('--step <n>', 'revert this many migrations', wholeNumber('--step', 1, MIGRATION_NAMES.length)),
  ).action(async (_options, command: Command) => {
    const flags = command.optsWithGlobals<MigrateFlags>()
    if (flags.to !== undefined && flags.step !== undefined) throw new FamilySyncError('give --to or --step, not both')
    await withConnection(flags, async (session) => {
      const { downOnSession } = await import('../../migrator/migrator.js')
      const result = await downOnSession(session, { to: flags.to === '0' ? 0 : flags.to, step: flags.step, force: flags.force }, migratorOptions(flags))
      if (result.migrations.length === 0) line('nothing to revert')
      return EXIT_OK
    })
  })

  migrate
    .command('status')
    .description('every migration (state, when it ran, which version ran it) and every stored object (state, checksum, when and by which version it was installed), and what migrate up would do now')
    .option('--json', 'print {"executed", "pending", "unknown", "migrations": [{"name", "state", "executedAt", "version"}], "objects": [{"name", "kind", "state", "pending", "reason", "checksum", "installedAt", "version", "definer"}], "skew"}')
    .action(async (_options, command: Command) => {
      const flags = command.optsWithGlobals<MigrateFlags>()
      await withConnection(flags, async (session) => {
        const { statusOnSession } = await import('../../migrator/migrator.js')
        const status = await statusOnSession(session)
        if (flags.json) printJson(status)
        else printStatus(status)
        return EXIT_OK
      })
    })
}

const shown = (value: string | null, fallback = '-') => value ?? fallback

function printStatus(status: MigrationStatus): void {
  const table = (rows: string[][]) => {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
    for (const row of rows) line(row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd())
  }
  table([
    ['migration', 'state', 'executed at', 'by version'],
    ...status.migrations.map((m) => [m.name, m.state, shown(m.executedAt), m.state === 'pending' ? '-' : shown(m.version, '0.2 or earlier')]),
  ])
  line('')
  table([
    ['object', 'kind', 'state', 'checksum', 'installed at', 'by version'],
    ...status.objects.map((o) => [o.name, o.kind, o.pending ? `${o.state}, pending` : o.state, shown(o.checksum), shown(o.installedAt), o.installedAt ? shown(o.version, '0.2 or earlier') : '-']),
  ])
  for (const object of status.objects.filter((o) => o.pending)) line(`pending: ${object.kind} ${object.name}: ${object.reason ?? object.state}`)
  for (const skew of status.skew) line(`problem: ${skew}; this version's migrate up and down refuse to run here`)
}
