import type { Command } from 'commander'
import { EXIT_OK, FamilySyncError } from '../../errors.js'
import { wholeNumber } from '../options.js'
import { line } from '../output.js'
import { resolveTarget, type GlobalOptions } from '../runtime.js'

interface ServeFlags extends GlobalOptions {
  listen: string
  drain: boolean
  scanInterval: number
  allowPrivilegedAccount?: boolean
}

export const DEFAULT_LISTEN = '127.0.0.1:9187'

/** HOST:PORT, [IPv6]:PORT or :PORT (all interfaces). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text)
  const port = m ? Number(m[3]) : NaN
  if (!m || port < 0 || port > 65535) throw new FamilySyncError(`--listen ${text}: expected HOST:PORT, e.g. 127.0.0.1:9187, [::1]:9187 or :9187 for every interface`)
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port }
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run as a sidecar: drain, and serve /metrics, /healthz, /readyz and /families/{id}/validate over HTTP, until SIGINT or SIGTERM (or the parent process exits)')
    .option('--listen <host:port>', 'where to listen', DEFAULT_LISTEN)
    .option('--no-drain', 'do not drain (the event or another process does); only serve')
    .option('--allow-privileged-account', 'drain even though the account may do more than this database needs (root, say), which would run a replaced family_sync_drain with those rights')
    .option('--scan-interval <seconds>', 'how often to count mismatches, families and children over the whole of users (scrapes never do)', wholeNumber('--scan-interval', 1, 86_400), 60)
    .addHelpText(
      'after',
      `
Routes (GET): /metrics (Prometheus text), /healthz (200 while running), /readyz
(200 when the database answers and verify finds no problem, else 503 with the
problems), /families/{id}/validate (the shape of check --family ID --json: 200
consistent, 409 with its mismatches, 404 no such family, 400 a malformed id, 503
the database is down). Anything else 404, another method 405.
On SIGINT or SIGTERM it finishes the drain call in hand, closes the listener and
exits 0 within 5 s. It keeps running across database restarts.`,
    )
    .action(async (_options, command: Command) => {
      const flags = command.optsWithGlobals<ServeFlags>()
      const listen = parseListen(flags.listen)
      const target = resolveTarget(flags)
      const [{ serve }, { stopWhenTold }] = await Promise.all([import('../../serve/serve.js'), import('../../serve/lifetime.js')])
      const stop = stopWhenTold({ onStop: (why) => line(`stopping (${why}): finishing the call in hand`) })
      try {
        await serve(target, {
          ...listen,
          drain: flags.drain,
          allowPrivilegedAccount: flags.allowPrivilegedAccount,
          scanIntervalSeconds: flags.scanInterval,
          signal: stop.signal,
          log: line,
          onListening: (address) => {
            const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
            line(`serving http://${host}:${address.port}/ (metrics, healthz, readyz, families/{id}/validate) for ${target.host}:${target.port}/${target.database}${flags.drain ? '; draining' : ''}`)
          },
        })
      } catch (error) {
        if ((error as { code?: string }).code === 'EADDRINUSE') throw new FamilySyncError(`cannot listen on ${flags.listen}: the address is in use (another serve?); choose another with --listen`)
        if ((error as { code?: string }).code === 'EACCES') throw new FamilySyncError(`cannot listen on ${flags.listen}: permission denied (ports below 1024 need privileges); choose another with --listen`)
        throw error
      } finally {
        stop.dispose()
      }
      line('stopped')
      process.exitCode = EXIT_OK
    })
}
