import { driverTls, type DriverTls } from './tls.js'
import type { ConnectionTarget } from './url.js'

export const CONNECT_TIMEOUT_MS = 5000

/**
 * mysql2's options for a target: one place, whether the CLI or knexfile.ts
 * opens the connection. `tlsForPreferred` decides what PREFERRED means for a
 * caller that cannot retry in plaintext (knexfile.ts): plaintext.
 */
export function driverOptions(target: ConnectionTarget, options: { tlsForPreferred?: boolean } = {}) {
  const ssl: DriverTls | undefined = target.tls.mode === 'PREFERRED' && !options.tlsForPreferred ? undefined : driverTls(target.tls)
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    socketPath: target.socketPath,
    connectTimeout: CONNECT_TIMEOUT_MS,
    supportBigNumbers: true,
    dateStrings: true,
    ...(ssl ? { ssl } : {}),
  }
}
