import type { Knex } from 'knex'
import { parseDatabaseUrl, type ConnectionTarget } from '../connection/url.js'
import { describeError, EXIT_CANNOT_RUN, FamilySyncError } from '../errors.js'

export interface GlobalOptions {
  url?: string
}

function resolveUrl(options: GlobalOptions): string {
  const url = options.url ?? process.env.DATABASE_URL
  if (!url) throw new FamilySyncError('no database given: pass --url mysql://user:password@host:port/database or set DATABASE_URL')
  return url
}

let currentTarget: ConnectionTarget | undefined

/** The database a command works on; remembered so that failures can hide its password. */
export function resolveTarget(options: GlobalOptions): ConnectionTarget {
  const target = parseDatabaseUrl(resolveUrl(options))
  currentTarget = target
  if (target.database === undefined) {
    throw new FamilySyncError('the connection URL names no database: use mysql://user:password@host:port/database')
  }
  return target
}

/**
 * Opens the connection a command needs, runs it, always closes it, and turns
 * the command's result into the process exit status. knex is loaded here, not
 * at start-up, so commands that need no knex start faster.
 */
export async function withDatabase(options: GlobalOptions, work: (knex: Knex) => Promise<number>): Promise<void> {
  const target = resolveTarget(options)
  const { openKnex } = await import('../connection/knex.js')
  const knex = openKnex(target)
  try {
    process.exitCode = await work(knex)
  } finally {
    await knex.destroy()
  }
}

/** One line on stderr, no password, exit 2 (SPEC §6); DEBUG=family-sync adds the stack. */
export function reportFailure(error: unknown): void {
  const failure = describeError(unwrap(error), currentTarget ?? {})
  const secret = currentTarget?.password
  const scrub = (text: string) => (secret ? text.split(secret).join('***') : text)
  process.stderr.write(`family-sync: ${scrub(failure.message)}\n`)
  if (/family-sync|\*/.test(process.env.DEBUG ?? '')) {
    process.stderr.write(scrub(String((unwrap(error) as Error)?.stack ?? error)) + '\n')
  }
  process.exitCode = failure.exitCode ?? EXIT_CANNOT_RUN
}

// Umzug wraps a migration's error in its own; the cause is what the user needs.
function unwrap(error: unknown): unknown {
  let current = error as { cause?: unknown; name?: string }
  while (current && current.name === 'MigrationError' && current.cause) current = current.cause as typeof current
  return current
}

export function parseWholeNumber(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new FamilySyncError(`${flag} takes a whole number, got '${value}'`)
    return Number(value)
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}
