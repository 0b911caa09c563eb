import type { Command } from 'commander'
import type { ConsistencyReport } from '../../check/consistency.js'
import type { Session } from '../../connection/session.js'
import { CHECK_LIMIT, CHECK_LIMIT_MAX } from '../../defaults.js'
import { EXIT_OK, EXIT_PROBLEM_FOUND, FamilySyncError } from '../../errors.js'
import { idNumber, integerRange, wholeNumber } from '../options.js'
import { document, documentToFile, jsonText, line } from '../output.js'
import { withConnection, type GlobalOptions } from '../runtime.js'

interface CheckFlags extends GlobalOptions {
  family?: number | bigint
  limit: number
  json?: boolean
  prometheus?: boolean
  output?: string
}

function printCheck(report: ConsistencyReport): void {
  const scope = report.familyId === null ? 'all families' : `family ${report.familyId}`
  const below = report.descendantCount > 0 ? ` (and ${report.descendantCount} rows below them out of step with the top of their chain)` : ''
  line(`${report.ok ? 'ok' : 'PROBLEM'}: ${report.mismatchCount} mismatched children in ${scope}, ${report.pendingCount} of them queued to be fixed${below}`)
  const { queue } = report
  const drained = queue.lastDrainAgeSeconds === null ? 'no drain has run yet' : `last drain ${queue.lastDrainAgeSeconds.toFixed(1)} s ago`
  line(`queue: ${queue.pending} pending${queue.oldestAgeSeconds === null ? '' : `, oldest ${queue.oldestAgeSeconds.toFixed(1)} s`}, ${queue.parked.length} parked; ${drained}`)
  for (const m of report.mismatches) {
    line(`  child ${m.childId} (${m.childUsername}) family ${m.childFamilyId ?? 'NULL'} <- parent ${m.parentId} (${m.parentUsername}) family ${m.parentFamilyId}`)
  }
  if (report.mismatchCount > report.mismatches.length) line(`  ... ${report.mismatchCount - report.mismatches.length} more (raise --limit)`)
  for (const entry of queue.parked) line(`  parked entry ${entry.id} (parent ${entry.parentId}) after ${entry.attempts} attempts: ${entry.lastError ?? 'unknown error'}`)
  for (const problem of report.problems) line(`problem: ${problem}`)
}

/** --family must fit users.family_id: a value the column cannot hold would quietly match nothing. */
async function checkFamilyRange(session: Session, family: number | bigint): Promise<void> {
  const type = await session.scalar<string>("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'family_id'")
  const range = type === null ? null : integerRange(type)
  if (range && (BigInt(family) < range[0] || BigInt(family) > range[1])) {
    throw new FamilySyncError(`--family ${family} is out of range for users.family_id (${type}: ${range[0]} to ${range[1]})`)
  }
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('count children whose family_id differs from their parent, and check the queue and the drain')
    .option('--family <id>', 'only this family (uses indexes only)', idNumber('--family'))
    .option('--limit <n>', 'sample rows to show, lowest child id first', wholeNumber('--limit', 0, CHECK_LIMIT_MAX), CHECK_LIMIT)
    .option('--json', 'print the report as JSON')
    .option('--prometheus', 'print Prometheus text-format metrics')
    .option('--output <file>', 'with --json or --prometheus: write the document to this file (atomically: a temporary file renamed over it; left as it was when check cannot run)')
    .addHelpText(
      'after',
      `
Exit status: 0 all is well; 1 a mismatch no queued work will fix, a parked queue
entry, queued work older than 10 s, or no drain for 10 s while the event should
run; 2 the check could not run (stdout is then empty).

--json prints {"ok", "mismatchCount", "pendingCount", "descendantCount", "mismatches": [{"childId",
"childUsername", "childFamilyId", "parentId", "parentUsername", "parentFamilyId"}],
"queue": {"pending", "oldestAgeSeconds", "parked": [{"id", "parentId", "attempts",
"lastError"}], "lastDrainAgeSeconds", "drainExpected", "drainRunning"}, "familyId",
"problems"}.
--prometheus prints family_sync_mismatches, family_sync_mismatches_pending,
family_sync_mismatch_descendants,
family_sync_queue_pending, family_sync_queue_oldest_age_seconds,
family_sync_queue_parked, family_sync_drain_last_run_age_seconds, family_sync_ok,
family_sync_object_present{name,kind}, family_sync_object_up_to_date{name,kind},
family_sync_event_scheduler_on and family_sync_verify_problems.`,
    )
    .action(async (_options, command: Command) => {
      const flags = command.optsWithGlobals<CheckFlags>()
      if (flags.json && flags.prometheus) throw new FamilySyncError('give --json or --prometheus, not both')
      if (flags.output && !flags.json && !flags.prometheus) throw new FamilySyncError('--output writes the --json or --prometheus document: give one of them')
      const emit = (text: string) => (flags.output ? documentToFile(flags.output, text) : document(text))
      await withConnection(flags, async (session) => {
        if (flags.family !== undefined) await checkFamilyRange(session, flags.family)
        const { checkOnSession } = await import('../../check/consistency.js')
        const report = await checkOnSession(session, { familyId: flags.family, limit: flags.limit })
        if (flags.json) emit(jsonText(report))
        else if (flags.prometheus) {
          const [{ toPrometheus }, { verifyOnSession }] = await Promise.all([import('../../check/prometheus.js'), import('../../verify/verify.js')])
          emit(await toPrometheus(report, await verifyOnSession(session)))
        } else printCheck(report)
        return report.ok ? EXIT_OK : EXIT_PROBLEM_FOUND
      })
    })
}
