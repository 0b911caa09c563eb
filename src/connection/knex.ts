import knexFactory, { type Knex } from 'knex'
import { driverOptions } from './options.js'
import type { ConnectionTarget } from './url.js'

export function knexConfig(target: ConnectionTarget, connectTimeoutMs = 5000): Knex.Config {
  return {
    client: 'mysql2',
    connection: driverOptions(target, connectTimeoutMs),
    // One connection for the named lock, one for the work, one spare.
    pool: { min: 0, max: 4 },
  }
}

export function openKnex(target: ConnectionTarget, connectTimeoutMs?: number): Knex {
  return knexFactory(knexConfig(target, connectTimeoutMs))
}
