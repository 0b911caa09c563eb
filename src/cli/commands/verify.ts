import type { Command } from 'commander'
import { EXIT_OK, EXIT_PROBLEM_FOUND } from '../../errors.js'
import type { ObjectState } from '../../db/object-state.js'
import type { VerifyReport } from '../../verify/verify.js'
import { line, printJson } from '../output.js'
import { withConnection, type GlobalOptions } from '../runtime.js'

const LABEL: Record<ObjectState, string> = {
  ok: 'ok',
  missing: 'MISSING',
  differs: 'DIFFERS',
  disabled: 'DISABLED',
  'definer-gone': 'DEFINER GONE',
  'owner-changed': 'OWNER CHANGED',
  elsewhere: 'ELSEWHERE',
  newer: 'NEWER',
  unknown: 'UNKNOWN',
}

function printVerify(report: VerifyReport): void {
  for (const o of report.objects) line(`${LABEL[o.state].padEnd(13)} ${o.kind.padEnd(9)} ${o.name}${o.definer ? `  (definer ${o.definer})` : ''}`)
  for (const t of report.foreignTriggers) line(`${(t.writesUsers ? 'FOREIGN' : 'other').padEnd(13)} ${'trigger'.padEnd(9)} ${t.name}  (${t.timing} ${t.event} on users, not family-sync's)`)
  line(`event scheduler: ${report.eventScheduler}`)
  for (const p of report.problems) line(`problem: ${p}`)
  for (const n of report.notes) line(`note: ${n}`)
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description("check that every trigger, the procedure and the event exist, match triggers/, run where they should and have a living definer, and that no other trigger on users writes users")
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Exit status: 0 all is well; 1 a problem, each printed with the command that
fixes it; 2 verify could not run (including an account that cannot see the
objects: it needs TRIGGER on users, EVENT and EXECUTE on the database).

--json prints {"ok", "eventScheduler", "objects": [{"name", "kind", "present",
"upToDate", "definer", "definerExists", "state", "reason"}], "foreignTriggers":
[{"name", "timing", "event", "writesUsers"}], "problems", "notes"}.`,
    )
    .action(async (_options, command: Command) => {
      const flags = command.optsWithGlobals<GlobalOptions & { json?: boolean }>()
      await withConnection(flags, async (session) => {
        const { verifyOnSession } = await import('../../verify/verify.js')
        const report = await verifyOnSession(session)
        if (flags.json) printJson(report)
        else printVerify(report)
        return report.ok ? EXIT_OK : EXIT_PROBLEM_FOUND
      })
    })
}
