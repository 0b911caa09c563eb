import type { Command } from 'commander'
import { checkConsistency, type ConsistencyReport } from '../check/consistency.js'
import { watchSyncQueue, drainSyncQueue } from '../drain/drain.js'
import { EXIT_OK, EXIT_PROBLEM_FOUND, FamilySyncError } from '../errors.js'
import { createProgress } from '../progress.js'
import { repairFamilyIds } from '../repair/engine.js'
import { verifyTriggers, type VerifyReport } from '../verify/verify.js'
import { installScript } from './script.js'
import { parseWholeNumber, printJson, withDatabase, type GlobalOptions } from './runtime.js'

const out = (line: string) => process.stdout.write(line + '\n')

function printCheck(report: ConsistencyReport): void {
  const scope = report.familyId === null ? 'all families' : `family ${report.familyId}`
  out(`${report.ok ? 'ok' : 'PROBLEM'}: ${report.mismatchCount} mismatched children in ${scope}, ${report.pendingCount} of them queued to be fixed`)
  const age = report.queue.oldestAgeSeconds
  out(`queue: ${report.queue.pending} pending${age === null ? '' : `, oldest ${age.toFixed(1)} s`}`)
  for (const m of report.mismatches) {
    out(`  child ${m.childId} (${m.childUsername}) family ${m.childFamilyId ?? 'NULL'} <- parent ${m.parentId} (${m.parentUsername}) family ${m.parentFamilyId}`)
  }
  if (report.mismatchCount > report.mismatches.length) out(`  ... ${report.mismatchCount - report.mismatches.length} more (raise --limit)`)
  if (report.mismatchCount > report.pendingCount) out('fix: family-sync repair (and family-sync verify to see why the triggers missed them)')
}

function printVerify(report: VerifyReport): void {
  for (const o of report.objects) {
    const state = !o.present ? 'MISSING' : !o.upToDate ? 'DIFFERS' : o.definerExists === false ? 'DEFINER GONE' : 'ok'
    out(`${state.padEnd(12)} ${o.kind.padEnd(9)} ${o.name}${o.definer ? `  (definer ${o.definer})` : ''}`)
  }
  out(`event scheduler: ${report.eventScheduler}`)
  for (const p of report.problems) out(`problem: ${p}`)
  for (const n of report.notes) out(`note: ${n}`)
}

interface CheckFlags extends GlobalOptions {
  family?: number
  limit: number
  json?: boolean
  prometheus?: boolean
}

export function registerOperations(program: Command): void {
  program
    .command('sql')
    .description('print every statement `migrate up` would run, as a mysql-client script (needs no connection)')
    .action(async () => {
      process.stdout.write(await installScript())
    })

  program
    .command('check')
    .description('count children whose family_id differs from their parent (exit 1 when queued work will not fix them, or the queue is older than 60 s)')
    .option('--family <id>', 'only this family (uses indexes only)', parseWholeNumber('--family'))
    .option('--limit <n>', 'sample rows to show, lowest child id first', parseWholeNumber('--limit'), 100)
    .option('--json', 'print the report as JSON')
    .option('--prometheus', 'print Prometheus text-format metrics')
    .action(async (_args, command: Command) => {
      const options = command.optsWithGlobals<CheckFlags>()
      if (options.json && options.prometheus) throw new FamilySyncError('give --json or --prometheus, not both')
      await withDatabase(options, async (knex) => {
        const report = await checkConsistency(knex, { familyId: options.family, limit: options.limit })
        if (options.json) printJson(report)
        else if (options.prometheus) {
          // prom-client is loaded for this output only, not on every start.
          const { toPrometheus } = await import('../check/prometheus.js')
          process.stdout.write(await toPrometheus(report, await verifyTriggers(knex)))
        }
        else printCheck(report)
        return report.ok ? EXIT_OK : EXIT_PROBLEM_FOUND
      })
    })

  program
    .command('verify')
    .description('check that every trigger, the procedure and the event exist, match triggers/ and have a living definer (exit 1 if not)')
    .option('--json', 'print the report as JSON')
    .action(async (_args, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { json?: boolean }>()
      await withDatabase(options, async (knex) => {
        const report = await verifyTriggers(knex)
        if (options.json) printJson(report)
        else printVerify(report)
        return report.ok ? EXIT_OK : EXIT_PROBLEM_FOUND
      })
    })

  program
    .command('repair')
    .description('repair every mismatch in short audited batches (exit 1 if some could not be repaired)')
    .option('--dry-run', 'count what would change, change nothing')
    .option('--json', 'print {"fixed", "batches", "maxBatchMs", "durationMs", "dryRun"}')
    .option('--batch-ms <ms>', 'target duration of one batch transaction', parseWholeNumber('--batch-ms'), 100)
    .action(async (_args, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { dryRun?: boolean; json?: boolean; batchMs: number }>()
      await withDatabase(options, async (knex) => {
        const result = await repairFamilyIds(knex, { dryRun: options.dryRun, batchMs: options.batchMs, progress: options.json ? undefined : createProgress() })
        if (options.json) printJson(result)
        else if (result.dryRun) out(`dry run: ${result.fixed} mismatched children would be repaired; nothing changed`)
        else out(`repaired ${result.fixed} children in ${result.batches} batches (longest ${result.maxBatchMs} ms, ${result.durationMs} ms in all)${result.remaining ? `; ${result.remaining} remain` : ''}`)
        return result.remaining > 0 && !result.dryRun ? EXIT_PROBLEM_FOUND : EXIT_OK
      })
    })

  program
    .command('drain')
    .description('apply queued work to children now (--watch: keep going until SIGINT or SIGTERM)')
    .option('--watch', 'keep draining; on SIGINT or SIGTERM finish the call in hand and exit 0')
    .action(async (_args, command: Command) => {
      const options = command.optsWithGlobals<GlobalOptions & { watch?: boolean }>()
      await withDatabase(options, async (knex) => {
        if (!options.watch) {
          const result = await drainSyncQueue(knex)
          out(`drained ${result.applied} queued parents in ${result.durationMs} ms`)
          return EXIT_OK
        }
        const stop = new AbortController()
        const onSignal = () => stop.abort()
        process.once('SIGINT', onSignal)
        process.once('SIGTERM', onSignal)
        out('draining; stop with SIGINT or SIGTERM')
        const result = await watchSyncQueue(knex, { signal: stop.signal, onApplied: (n, total) => out(`drained ${n} queued parents (${total} in all)`) })
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        out(`stopped: drained ${result.applied} queued parents`)
        return EXIT_OK
      })
    })
}
