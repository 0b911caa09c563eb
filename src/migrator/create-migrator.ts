import { withKnexSession, type KnexLike } from '../connection/knex-session.js'
import {
  downOnSession,
  statusOnSession,
  upOnSession,
  type DownOptions,
  type DownResult,
  type MigrationStatus,
  type MigratorOptions,
  type UpOptions,
  type UpResult,
} from './migrator.js'

/**
 * family-sync's migrations, driven from an application's own knex. Each call
 * borrows one connection for its whole length: the migration lock and the
 * work share it, so a pool of one connection is enough, and the lock goes
 * with the connection if the process dies.
 */
export interface FamilySyncMigrator {
  /** What ran, and what `up` would do now (pending migrations and stored objects). */
  status(): Promise<MigrationStatus>
  /** Pending migrations, then stored objects that are missing or differ from triggers/. */
  up(options?: UpOptions): Promise<UpResult>
  /** One migration by default; `{ to: 0 }` reverts all. */
  down(options?: DownOptions): Promise<DownResult>
}

export function createMigrator(knex: KnexLike, options: MigratorOptions = {}): FamilySyncMigrator {
  return {
    status: () => withKnexSession(knex, (session) => statusOnSession(session, options)),
    up: (up) => withKnexSession(knex, (session) => upOnSession(session, up, options)),
    down: (down) => withKnexSession(knex, (session) => downOnSession(session, down, options)),
  }
}
