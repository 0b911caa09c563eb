// Failures that say "the server is not there right now" (a restart, a dropped
// connection, a failover, a Galera node not yet synced), as opposed to
// failures that retrying cannot fix (a wrong password, a missing procedure).
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR', 'ER_CONNECTION_KILLED', 'ER_QUERY_INTERRUPTED',
])
const TRANSIENT_ERRNOS = new Set([1040, 1047, 1053, 1317, 1927, 2002, 2003, 2006, 2013])

export function isTransient(error: unknown): boolean {
  const e = error as { code?: string; errno?: number; fatal?: boolean }
  // mysql2 answers a statement sent on a connection it already knows is dead
  // with a fatal error of its own, no code, no server errno: reconnect.
  const deadConnection = e?.fatal === true && e.errno === undefined && e.code === undefined
  return TRANSIENT_CODES.has(e?.code ?? '') || TRANSIENT_ERRNOS.has(e?.errno ?? -1) || deadConnection
}
