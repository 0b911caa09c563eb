import type { OpenSession } from '../connection/connect.js'
import type { Session } from '../connection/session.js'
import { withPasswordFile } from '../connection/password-file.js'
import { tlsWarning } from '../connection/tls.js'
import { parseDatabaseUrl, secretsOf, type ConnectionTarget } from '../connection/url.js'
import { describeError, EXIT_CANNOT_RUN, FamilySyncError } from '../errors.js'
import { addSecrets, errorLine, scrub } from './output.js'

export interface GlobalOptions {
  url?: string
  passwordFile?: string
}

let currentTarget: ConnectionTarget | undefined
let warned = false

/** The connection URL a command uses; its password is registered for scrubbing before anything can print it. */
export function resolveTarget(options: GlobalOptions): ConnectionTarget {
  const url = options.url ?? process.env.DATABASE_URL
  if (!url) throw new FamilySyncError('no database given: pass --url mysql://user:password@host:port/database or set DATABASE_URL')
  addSecrets(secretsOf(url))
  const target = withPasswordFile(parseDatabaseUrl(url), options.passwordFile ?? process.env.DATABASE_PASSWORD_FILE)
  addSecrets([target.password])
  currentTarget = target
  const warning = tlsWarning(target.tls)
  if (warning && !warned) errorLine(`family-sync: warning: ${warning}`)
  warned = true
  if (target.database === undefined) {
    throw new FamilySyncError('the connection URL names no database: use mysql://user:password@host:port/database')
  }
  return target
}

/** Opens the command's one connection, runs it, always closes it, and sets the exit status it returns. */
export async function withConnection(options: GlobalOptions, work: (session: Session, target: ConnectionTarget) => Promise<number>): Promise<void> {
  const target = resolveTarget(options)
  const { connect } = await import('../connection/connect.js')
  const open: OpenSession = await connect(target)
  try {
    process.exitCode = await work(open.session, target)
  } finally {
    await open.close()
  }
}

/** One line on stderr, no password, exit 2 (or the error's own status); DEBUG=family-sync adds the stack. */
export function reportFailure(error: unknown): void {
  const cause = unwrap(error)
  const failure = describeError(cause, currentTarget ?? {})
  errorLine(`family-sync: ${failure.message}`)
  if (/family-sync|\*/.test(process.env.DEBUG ?? '')) process.stderr.write(scrub(String((cause as Error)?.stack ?? cause)) + '\n')
  process.exitCode = failure.exitCode ?? EXIT_CANNOT_RUN
}

// Umzug wraps a migration's error in its own; the cause is what the user needs.
function unwrap(error: unknown): unknown {
  let current = error as { cause?: unknown; name?: string }
  while (current && current.name === 'MigrationError' && current.cause) current = current.cause as typeof current
  return current
}
