import type { ConnectionTarget } from './url.js'

/** mysql2's options for a target: one place, whether knex or a bare connection opens it. */
export function driverOptions(target: ConnectionTarget, connectTimeoutMs = 5000) {
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    socketPath: target.socketPath,
    connectTimeout: connectTimeoutMs,
    supportBigNumbers: true,
    dateStrings: true,
  } as const
}
