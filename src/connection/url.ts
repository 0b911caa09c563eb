import { FamilySyncError } from '../errors.js'

export interface ConnectionTarget {
  host: string
  port: number
  user: string
  password: string
  database: string | undefined
  socketPath: string | undefined
}

/**
 * Reads `mysql://user:pass@host:port/db`. Any failure names the URL without
 * its password, and the password is never echoed back.
 */
export function parseDatabaseUrl(url: string): ConnectionTarget {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    // Not echoed: a URL that does not parse cannot be redacted reliably.
    throw new FamilySyncError('malformed connection URL (not shown, it may hold a password): expected mysql://user:password@host:port/database')
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new FamilySyncError(`unsupported URL scheme '${parsed.protocol}' in '${redactUrl(url)}': use mysql://user:password@host:port/database`)
  }
  const port = parsed.port === '' ? 3306 : Number(parsed.port)
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined
  if (database !== undefined && database.includes('/')) {
    throw new FamilySyncError(`malformed connection URL '${redactUrl(url)}': the path must be a single database name`)
  }
  return {
    host: decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, '')) || '127.0.0.1',
    port,
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database,
    socketPath: parsed.searchParams.get('socket') ?? undefined,
  }
}

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z0-9+.-]+:\/\/[^:@/]*:)[^@]*@/i, '$1***@')
}
