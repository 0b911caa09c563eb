import type { Command } from 'commander'
import { BATCH_MS } from '../../defaults.js'
import { EXIT_OK, EXIT_PROBLEM_FOUND } from '../../errors.js'
import { createProgress } from '../../progress.js'
import { wholeNumber } from '../options.js'
import { line, printJson } from '../output.js'
import { withConnection, type GlobalOptions } from '../runtime.js'

export function registerRepair(program: Command): void {
  program
    .command('repair')
    .description('repair every mismatch in short audited batches that never make the application wait long or fail')
    .option('--dry-run', 'count what would change, change nothing')
    .option('--json', 'print the result as JSON')
    .option('--batch-ms <ms>', 'target duration of one batch transaction', wholeNumber('--batch-ms', 1, 60_000), BATCH_MS)
    .option('--force', 'run on a read-only server or a replica anyway')
    .addHelpText(
      'after',
      `
Exit status: 0 nothing is left, or only mismatches queued work will fix (reported
as pending); 1 mismatches remain that no queued work will fix; 2 repair could not run.

--json prints {"fixed", "batches", "maxBatchMs", "durationMs", "dryRun", "passes",
"retries", "remaining", "pending"}: fixed children (with --dry-run: the mismatches
it would repair), transactions, the longest one in ms, the whole run in ms, passes
over the table (one per level of a parent_id chain), retried transactions,
mismatches left that no queued work will fix, and those the drain is on.`,
    )
    .action(async (_options, command: Command) => {
      const flags = command.optsWithGlobals<GlobalOptions & { dryRun?: boolean; json?: boolean; batchMs: number; force?: boolean }>()
      await withConnection(flags, async (session) => {
        const [{ repairOnSession }, { readServerInfo }, { refuseReadOnly }] = await Promise.all([
          import('../../repair/engine.js'),
          import('../../db/introspect.js'),
          import('../../db/read-only.js'),
        ])
        if (!flags.dryRun) await refuseReadOnly(session, await readServerInfo(session), flags.force, 'repair')
        const result = await repairOnSession(session, { dryRun: flags.dryRun, batchMs: flags.batchMs, progress: flags.json ? undefined : createProgress() })
        if (flags.json) printJson(result)
        else if (result.dryRun) line(`dry run: ${result.fixed} mismatched children would be repaired${result.pending ? ` (${result.pending} of them are queued for the drain)` : ''}; nothing changed`)
        else {
          line(`repaired ${result.fixed} children in ${result.batches} batches (longest ${result.maxBatchMs} ms, ${result.durationMs} ms in all)`)
          if (result.pending) line(`pending: ${result.pending} more are queued work the drain is applying`)
          if (result.remaining) line(`problem: ${result.remaining} mismatches remain (rows the application held throughout): run repair again`)
        }
        return result.remaining > 0 && !result.dryRun ? EXIT_PROBLEM_FOUND : EXIT_OK
      })
    })
}
