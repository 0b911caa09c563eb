/** Exit statuses: 0 all is well, 1 the command ran and found a problem, 2 it could not do its job. */
export const EXIT_OK = 0
export const EXIT_PROBLEM_FOUND = 1
export const EXIT_CANNOT_RUN = 2

/**
 * An error whose message is already the one line a user should read: what
 * failed and what to do about it. The CLI prints it as it is and exits 2.
 */
export class FamilySyncError extends Error {
  readonly exitCode: number
  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, { cause: options.cause })
    this.name = 'FamilySyncError'
    this.exitCode = options.exitCode ?? EXIT_CANNOT_RUN
  }
}

interface DriverError {
  code?: string
  /** Set by connect.ts on an access refusal: whether the attempt was encrypted. */
  transport?: 'plaintext' | 'tls'
  errno?: number
  sqlMessage?: string
  message?: string
  hostname?: string
  address?: string
  port?: number
}

export interface ErrorScene {
  host?: string
  port?: number
  user?: string
  database?: string
  socketPath?: string
  tls?: { mode: string; cert?: string }
}

// mysql2 and Node report connection failures with codes, not sentences a DBA
// can act on; each case below says what to check. Server-side messages are
// reused only where they carry no secret (they never contain the password).
export function describeError(error: unknown, scene: ErrorScene = {}): FamilySyncError {
  if (error instanceof FamilySyncError) return error
  const e = (error ?? {}) as DriverError
  const where = scene.host ? `${scene.host}:${scene.port ?? 3306}` : 'the server'
  const say = (message: string) => new FamilySyncError(message, { cause: error })
  if (scene.socketPath && (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK')) {
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'ENOTSOCK' ? 'not a socket' : 'no server is listening on it'
    return say(`cannot connect through the socket ${scene.socketPath}: ${why}; check socket= in the connection URL (the server's own path is its @@socket)`)
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return say(`cannot connect to ${where}: connection refused; is the server running and is the port in --url right?`)
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return say(`cannot connect to ${where}: unknown host; check the host name in --url`)
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return say(`cannot connect to ${where}: no answer in time; check the host, port and firewall in --url`)
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      return say(`access denied for user '${scene.user ?? ''}' at ${where}: check the user name and password in --url${accessHint(e, scene)}`)
    case 'ER_SECURE_TRANSPORT_REQUIRED':
      return say(`${where} accepts only encrypted connections (require_secure_transport=ON): use ssl-mode=REQUIRED, or VERIFY_CA with ssl-ca=/path/to/ca.pem`)
    case 'ER_BAD_DB_ERROR':
      return say(`unknown database '${scene.database ?? ''}' at ${where}: create it or fix the database name in --url`)
    case 'ER_DBACCESS_DENIED_ERROR':
      return say(`user '${scene.user ?? ''}' may not use database '${scene.database ?? ''}': GRANT it privileges on that database`)
    case 'ER_TABLEACCESS_DENIED_ERROR':
    case 'ER_COLUMNACCESS_DENIED_ERROR':
    case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
    case 'ER_PROCACCESS_DENIED_ERROR':
      return say(`missing privilege: ${oneLine(e.sqlMessage ?? e.message ?? '')}; GRANT it to '${scene.user ?? ''}' and run again`)
    case 'ER_NO_SUCH_TABLE':
      return /family_sync_/.test(e.sqlMessage ?? '')
        ? say(`${oneLine(e.sqlMessage ?? '')}: family-sync is not installed in this database; run \`family-sync migrate up\` first, or check the database in --url`)
        : say(`${oneLine(e.sqlMessage ?? '')}: family-sync works on the application's users and families tables; check that the database in --url is the application's`)
    case 'ER_SP_DOES_NOT_EXIST':
      return say(`${oneLine(e.sqlMessage ?? '')}; run \`family-sync migrate up\` first`)
    case 'ER_NO_SUCH_USER':
      return say(`${oneLine(e.sqlMessage ?? '')}; a trigger's or routine's definer was dropped: run \`family-sync verify\` and recreate the objects as an existing user`)
    case 'PROTOCOL_CONNECTION_LOST':
    case 'ECONNRESET':
    case 'ER_CONNECTION_KILLED':
      return say(`the connection to ${where} was lost (the server restarted, or closed a killed or idle connection); a migration lock went with it and nothing more was changed: run the command again, every step is safe to repeat`)
    case 'HANDSHAKE_SSL_ERROR':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_HAS_EXPIRED':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return say(`TLS to ${where} failed: the server's certificate could not be verified (${e.code === 'HANDSHAKE_SSL_ERROR' ? oneLine(e.message ?? '') : e.code}); check ssl-ca in --url (ssl-mode=REQUIRED encrypts without verifying)`)
    case 'ER_OPTION_PREVENTS_STATEMENT':
      return say(`${oneLine(e.sqlMessage ?? '')}: the server is read-only; run the command on the primary`)
    case 'ER_LOCK_DEADLOCK':
    case 'ER_LOCK_WAIT_TIMEOUT':
      return say(`${oneLine(e.sqlMessage ?? '')} after retries; run again when the write load is lower`)
    default:
      break
  }
  // mysql2's own fatal error for a statement on a connection it knows is dead.
  if ((error as { fatal?: boolean })?.fatal === true && e.code === undefined && e.errno === undefined) {
    return say(`the connection to ${where} was lost (the server restarted, or closed a killed or idle connection); run the command again`)
  }
  if (e.sqlMessage) return say(`the server refused a statement: ${oneLine(e.sqlMessage)}`)
  return say(`failed: ${oneLine(e.message ?? String(error))} (set DEBUG=family-sync for details)`)
}

// MariaDB refuses an account's REQUIRE SSL/X509 and require_secure_transport
// with the same "access denied" as a wrong password: say what else it can be.
function accessHint(e: DriverError, scene: ErrorScene): string {
  if (e.transport === 'plaintext') {
    return '; the connection was not encrypted: if the account requires TLS (REQUIRE SSL or X509) or the server has require_secure_transport=ON, use ssl-mode=REQUIRED (with ssl-cert and ssl-key for REQUIRE X509)'
  }
  if (e.transport === 'tls' && !scene.tls?.cert) return '; if the account requires a client certificate (REQUIRE X509, SUBJECT or ISSUER), add ssl-cert=/path/to/cert.pem&ssl-key=/path/to/key.pem'
  return ''
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}
