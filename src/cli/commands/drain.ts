import type { Command } from 'commander'
import { EXIT_OK, EXIT_PROBLEM_FOUND } from '../../errors.js'
import { line, whenStdoutCloses } from '../output.js'
import { withConnection, type GlobalOptions } from '../runtime.js'

interface DrainFlags extends GlobalOptions {
  watch?: boolean
  retryParked?: boolean
  force?: boolean
  allowPrivilegedAccount?: boolean
}

export function registerDrain(program: Command): void {
  program
    .command('drain')
    .description('apply queued work to children now; --watch keeps going (a sidecar when the event cannot run) until SIGINT or SIGTERM')
    .option('--watch', 'keep draining, reconnecting after a server restart; on SIGINT or SIGTERM finish the call in hand and exit 0')
    .option('--retry-parked', 'put parked entries back in line first, for five more attempts')
    .option('--force', 'run on a read-only server or a replica anyway')
    .option('--allow-privileged-account', 'with --watch: run even though the account may do more than this database needs (root, say), which would run a replaced family_sync_drain with those rights')
    .addHelpText('after', '\nExit status: 0 done; 1 entries are parked after it (each named); 2 it could not run.')
    .action(async (_options, command: Command) => {
      const flags = command.optsWithGlobals<DrainFlags>()
      await withConnection(flags, async (session, target) => {
        const [{ drainOnSession, unparkEntries }, { readServerInfo }, { refuseReadOnly }] = await Promise.all([
          import('../../drain/drain.js'),
          import('../../db/introspect.js'),
          import('../../db/read-only.js'),
        ])
        await refuseReadOnly(session, await readServerInfo(session), flags.force, 'drain')
        if (flags.retryParked) line(`put ${await unparkEntries(session)} parked entries back in line`)
        if (!flags.watch) {
          const result = await drainOnSession(session)
          line(`drained ${result.applied} queued parents in ${result.durationMs} ms`)
          if (result.retrying) line(`${result.retrying} entries failed and will be retried (family-sync check names them)`)
          if (result.parked) line(`problem: ${result.parked} entries are parked: family-sync check names them and their errors; fix the cause, then run family-sync drain --retry-parked`)
          return result.parked > 0 ? EXIT_PROBLEM_FOUND : EXIT_OK
        }
        const [{ drainUntilStopped }, { stopWhenTold }] = await Promise.all([import('../../drain/reconnecting.js'), import('../../serve/lifetime.js')])
        const stop = stopWhenTold()
        whenStdoutCloses(() => stop.stop('stdout closed'))
        line('draining; stop with SIGINT or SIGTERM')
        const where = `${target.host}:${target.port}`
        const result = await drainUntilStopped(target, session, {
          signal: stop.signal,
          allowPrivilegedAccount: flags.allowPrivilegedAccount,
          onApplied: (n, total) => line(`drained ${n} queued parents (${total} in all)`),
          onOutage: (error) => line(`lost the connection to ${where} (${(error as { code?: string }).code ?? (error as Error).message}); reconnecting`),
          onRecovered: (ms) => line(`reconnected to ${where} after ${(ms / 1000).toFixed(1)} s; draining`),
        })
        stop.dispose()
        line(`stopped: drained ${result.applied} queued parents${result.outages ? ` across ${result.outages} outages` : ''}`)
        return EXIT_OK
      })
    })
}
