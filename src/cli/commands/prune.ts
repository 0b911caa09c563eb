import type { Command } from 'commander'
import { BATCH_MS } from '../../defaults.js'
import { EXIT_OK } from '../../errors.js'
import { createProgress } from '../../progress.js'
import { wholeNumber } from '../options.js'
import { line, printJson } from '../output.js'
import { withConnection, type GlobalOptions } from '../runtime.js'

interface PruneFlags extends GlobalOptions {
  olderThan: number
  dryRun?: boolean
  json?: boolean
  batchMs: number
  force?: boolean
}

export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('delete family_sync_audit rows older than DAYS, in short batches that never touch users')
    .requiredOption('--older-than <days>', 'audit rows changed more than this many days ago go', wholeNumber('--older-than', 0, 36_500))
    .option('--dry-run', 'count what would go, delete nothing')
    .option('--json', 'print {"deleted", "batches", "cutoff", "dryRun", "durationMs"}')
    .option('--batch-ms <ms>', 'target duration of one delete transaction', wholeNumber('--batch-ms', 1, 60_000), BATCH_MS)
    .option('--force', 'run on a read-only server or a replica anyway')
    .action(async (_options, command: Command) => {
      const flags = command.optsWithGlobals<PruneFlags>()
      await withConnection(flags, async (session) => {
        const [{ pruneOnSession }, { readServerInfo }, { refuseReadOnly }] = await Promise.all([
          import('../../prune/prune.js'),
          import('../../db/introspect.js'),
          import('../../db/read-only.js'),
        ])
        if (!flags.dryRun) await refuseReadOnly(session, await readServerInfo(session), flags.force, 'prune')
        const result = await pruneOnSession(session, { olderThanDays: flags.olderThan, dryRun: flags.dryRun, batchMs: flags.batchMs, progress: flags.json ? undefined : createProgress() })
        if (flags.json) printJson(result)
        else if (result.dryRun) line(`dry run: ${result.deleted} audit rows changed before ${result.cutoff} would be deleted; nothing changed`)
        else line(`deleted ${result.deleted} audit rows changed before ${result.cutoff} in ${result.batches} batches (${result.durationMs} ms)`)
        return EXIT_OK
      })
    })
}
