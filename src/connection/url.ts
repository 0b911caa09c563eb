import { FamilySyncError } from '../errors.js'

export type SslMode = 'DISABLED' | 'PREFERRED' | 'REQUIRED' | 'VERIFY_CA' | 'VERIFY_IDENTITY'
export const SSL_MODES: readonly SslMode[] = ['DISABLED', 'PREFERRED', 'REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY']

export interface TlsSettings {
  mode: SslMode
  /** File paths, as the mysql client takes them. */
  ca?: string
  cert?: string
  key?: string
}

export interface ConnectionTarget {
  host: string
  port: number
  user: string
  password: string
  database: string | undefined
  socketPath: string | undefined
  tls: TlsSettings
}

// The URL parameters family-sync understands, named as the mysql client names
// its options. Anything else is refused: a misspelt ssl-mode silently ignored
// would mean a plaintext connection nobody asked for.
const PARAMETERS = ['ssl-mode', 'ssl-ca', 'ssl-cert', 'ssl-key', 'socket'] as const
const SHAPE = 'mysql://user:password@host:port/database'

// Parameters other tools put in a DATABASE_URL, and what to do about each here.
const INSTEAD: Record<string, string> = {
  charset: 'family-sync always talks utf8mb4; remove it',
  collation: 'family-sync always talks utf8mb4; remove it',
  ssl: 'use ssl-mode=REQUIRED to encrypt, or ssl-mode=VERIFY_CA with ssl-ca=/path/to/ca.pem to verify the server too',
  sslmode: 'use ssl-mode (DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)',
  sslca: 'use ssl-ca',
  sslcert: 'use ssl-cert',
  sslkey: 'use ssl-key',
  connection_limit: 'family-sync uses one connection per command; remove it',
  connectionlimit: 'family-sync uses one connection per command; remove it',
  pool_size: 'family-sync uses one connection per command; remove it',
  timezone: 'family-sync reads and writes no dates of the application; remove it',
  connecttimeout: 'family-sync waits 5 s for a connection; remove it',
  connect_timeout: 'family-sync waits 5 s for a connection; remove it',
  password: 'put the password in the URL (mysql://user:password@host/db) or in a file named by DATABASE_PASSWORD_FILE',
  user: 'put the user in the URL (mysql://user@host/db)',
  unix_socket: 'use socket=/path/to/mysqld.sock',
  socketpath: 'use socket=/path/to/mysqld.sock',
}

/**
 * Reads `mysql://user:pass@host:port/db?ssl-mode=...`. A failure names the
 * URL with its password replaced; the password itself is never echoed back.
 */
export function parseDatabaseUrl(url: string): ConnectionTarget {
  const shown = redactUrl(url)
  const scheme = /^((?:[a-z][a-z0-9+.-]*:)+)\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    throw new FamilySyncError(`malformed connection URL '${shown}': expected ${SHAPE}`)
  }
  if (scheme !== 'mysql:' && scheme !== 'mariadb:') {
    throw new FamilySyncError(`unsupported URL scheme '${scheme}' in '${shown}': use ${SHAPE}`)
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new FamilySyncError(`malformed connection URL '${shown}': expected ${SHAPE}`)
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined
  if (database !== undefined && database.includes('/')) {
    throw new FamilySyncError(`malformed connection URL '${shown}': the path must be a single database name`)
  }
  const params = new Map<string, string>()
  for (const [key, value] of parsed.searchParams) {
    if (!(PARAMETERS as readonly string[]).includes(key)) {
      throw new FamilySyncError(`parameter '${key}' in the connection URL is not one family-sync takes: ${INSTEAD[key.toLowerCase()] ?? 'remove it'} (family-sync knows ${PARAMETERS.join(', ')})`)
    }
    if (params.has(key)) throw new FamilySyncError(`parameter '${key}' is given twice in the connection URL`)
    params.set(key, value)
  }
  return {
    host: decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, '')) || '127.0.0.1',
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database,
    socketPath: params.get('socket'),
    tls: tlsSettings(params),
  }
}

function tlsSettings(params: Map<string, string>): TlsSettings {
  const ca = params.get('ssl-ca')
  const requested = params.get('ssl-mode')?.toUpperCase()
  if (requested !== undefined && !(SSL_MODES as readonly string[]).includes(requested)) {
    throw new FamilySyncError(`ssl-mode=${params.get('ssl-mode')} is not a mode: use one of ${SSL_MODES.join(', ')}`)
  }
  // As the mysql client does: a CA file alone means "verify the server against it".
  const mode = (requested ?? (ca ? 'VERIFY_CA' : 'PREFERRED')) as SslMode
  if ((mode === 'VERIFY_CA' || mode === 'VERIFY_IDENTITY') && !ca) {
    throw new FamilySyncError(`ssl-mode=${mode} needs the CA certificate: add ssl-ca=/path/to/ca.pem to the connection URL`)
  }
  if (mode === 'DISABLED' && (ca || params.has('ssl-cert') || params.has('ssl-key'))) {
    throw new FamilySyncError('ssl-mode=DISABLED cannot be combined with ssl-ca, ssl-cert or ssl-key')
  }
  if (params.has('ssl-cert') !== params.has('ssl-key')) {
    throw new FamilySyncError('ssl-cert and ssl-key go together: give both or neither')
  }
  return { mode, ca, cert: params.get('ssl-cert'), key: params.get('ssl-key') }
}

/**
 * Where the password sits in anything that looks like a connection string:
 * `mysql://u:p@h`, `jdbc:mysql://u:p@h`, `mysql:u:p@h`, `u:p@h/db`, and a
 * password holding an unencoded `@` (the host follows the last `@`).
 */
function passwordSpan(text: string): [start: number, end: number] | null {
  const scheme = /^(?:[a-z][a-z0-9+.-]*:)*(?:\/\/)?/i.exec(text)?.[0] ?? ''
  // A scheme-less "user:pw@host" reads like a scheme "user:"; without a "//" both readings are tried.
  for (const offset of new Set(scheme.endsWith('//') ? [scheme.length] : [scheme.length, 0])) {
    const rest = text.slice(offset)
    let at = rest.lastIndexOf('@')
    while (at > 0 && !/^[\w.\-[\]:%]+(?:[/?#]|$)/.test(rest.slice(at + 1))) at = rest.lastIndexOf('@', at - 1)
    const colon = rest.indexOf(':')
    if (at > 0 && colon !== -1 && colon < at) return [offset + colon + 1, offset + at]
  }
  return null
}

/** The text with any connection-string password replaced by ***. */
export function redactUrl(text: string): string {
  const span = passwordSpan(text)
  return span ? text.slice(0, span[0]) + '***' + text.slice(span[1]) : text
}

/** The password of a connection string, as written and as decoded, for scrubbing output. */
export function secretsOf(text: string): string[] {
  const span = passwordSpan(text)
  if (!span) return []
  const raw = text.slice(span[0], span[1])
  let decoded = raw
  try {
    decoded = decodeURIComponent(raw)
  } catch {
    // A stray % is not an escape: the raw form is the secret.
  }
  return [...new Set([raw, decoded])].filter((secret) => secret !== '')
}
