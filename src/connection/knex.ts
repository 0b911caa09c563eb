import knexFactory, { type Knex } from 'knex'
import { FamilySyncError } from '../errors.js'
import { parseDatabaseUrl, type ConnectionTarget } from './url.js'

export interface OpenOptions {
  /** Commands that only print SQL work without a database name. */
  requireDatabase?: boolean
  connectTimeoutMs?: number
}

export function knexConfig(target: ConnectionTarget, connectTimeoutMs = 5000): Knex.Config {
  return {
    client: 'mysql2',
    connection: {
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      database: target.database,
      socketPath: target.socketPath,
      connectTimeout: connectTimeoutMs,
      supportBigNumbers: true,
      dateStrings: true,
    },
    // One connection for the named lock, one for the work, one spare.
    pool: { min: 0, max: 4 },
  }
}

export function openKnex(url: string, options: OpenOptions = {}): { knex: Knex; target: ConnectionTarget } {
  const target = parseDatabaseUrl(url)
  if (options.requireDatabase !== false && target.database === undefined) {
    throw new FamilySyncError('the connection URL names no database: use mysql://user:password@host:port/database')
  }
  return { knex: knexFactory(knexConfig(target, options.connectTimeoutMs)), target }
}
