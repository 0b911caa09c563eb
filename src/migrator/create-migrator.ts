import type { Knex } from 'knex'
import { Umzug } from 'umzug'
import { migrations } from '../../migrations/index.js'
import type { Progress } from '../progress.js'
import { createContext, type MigrationContext, type Reporter } from './context.js'
import { MigrationLock } from './lock.js'
import { KnexStorage } from './storage.js'

export interface MigratorOptions {
  /** How long a second `migrate` waits for the lock before failing (default 120 s). */
  lockTimeoutSeconds?: number
  reporter?: Reporter
  progress?: Progress
  /** Target duration of one backfill batch. */
  batchMs?: number
}

const LOCKED_COMMANDS = new Set(['up', 'down'])

/**
 * An Umzug instance over the application's knex. `up` and `down` hold a MySQL
 * named lock for the whole command, so concurrent pipeline pods serialise and
 * each then sees what the others recorded.
 */
export function createMigrator(knex: Knex, options: MigratorOptions = {}): Umzug<MigrationContext> {
  const context = createContext('apply', knex, options)
  const lock = new MigrationLock(knex, options.lockTimeoutSeconds ?? 120)
  const umzug = new Umzug<MigrationContext>({
    migrations: migrations.map((m) => ({
      name: m.name,
      up: ({ context: ctx }) => m.up(ctx),
      down: ({ context: ctx }) => m.down(ctx),
    })),
    context,
    storage: new KnexStorage(knex),
    logger: undefined,
  })
  umzug.on('beforeCommand', async ({ command }) => {
    if (LOCKED_COMMANDS.has(command)) await lock.acquire()
  })
  umzug.on('afterCommand', async ({ command }) => {
    if (LOCKED_COMMANDS.has(command)) await lock.release()
  })
  return umzug
}

export { migrations }
