import type { Catalogue, StoredObjectKind } from '../db/catalogue.js'
import type { ObjectState } from '../db/object-state.js'
import type { Progress } from '../progress.js'
import type { Reporter } from '../reporter.js'
import type { Strategy } from './replace.js'

// The migrator's public vocabulary. The work is in plan.ts (what to do),
// up.ts, down.ts and run-context.ts (doing it); create-migrator.ts wraps it
// for an application's knex, cli/commands/migrate.ts for the command line.

export interface MigratorOptions {
  /** How long to wait for another migrate, and for the application's locks in all, in seconds (default 120). */
  lockTimeoutSeconds?: number
  /** The session lock_wait_timeout of each DDL attempt, in seconds (default 2). */
  lockWaitSeconds?: number
  /** Target duration of one backfill batch, in ms (default 100). */
  batchMs?: number
  reporter?: Reporter
  progress?: Progress
  /** @internal Another triggers/ directory (tests ship "another version" with it). */
  catalogue?: Catalogue
  /** @internal Force a replacement form (tests run MySQL's on MariaDB). */
  strategy?: Strategy
}

export interface UpOptions {
  /** Stop after this migration. */
  to?: string
  /** Check and print what would run, as a mysql-client script; change nothing. */
  dryRun?: boolean
  /** Triggers on users, not family-sync's, to drop in the trigger replacement step. */
  dropForeignTriggers?: string[]
  /** Run on a read-only server or a replica anyway. */
  force?: boolean
  /** Install every object for this account (user@host) rather than the one they were installed for. */
  definer?: string
  /** Install even though users.parent_id or users.family_id has no index. */
  allowMissingIndex?: boolean
}

export interface DownOptions {
  /** Revert down to and including this migration; 0 reverts all. */
  to?: string | 0
  /** Revert this many migrations (default 1). */
  step?: number
  force?: boolean
}

/** A stored object `migrate up` will (re)install, and why. */
export interface PendingObject {
  name: string
  kind: StoredObjectKind
  reason: string
}

/** A migration as `migrate status` shows it. */
export interface MigrationInfo {
  name: string
  /** unknown: recorded in the database, not known to this version (a newer version ran it). */
  state: 'executed' | 'pending' | 'unknown'
  executedAt: string | null
  /** The version of family-sync that ran it; null for records of 0.2 and earlier. */
  version: string | null
}

/** A stored object as `migrate status` shows it. */
export interface ObjectInfo {
  name: string
  kind: StoredObjectKind
  state: ObjectState
  /** Whether `migrate up` would (re)install it now. */
  pending: boolean
  reason: string | null
  /** The first 8 hex digits of the server copy's checksum. */
  checksum: string | null
  installedAt: string | null
  version: string | null
  definer: string | null
}

export interface MigrationStatus {
  executed: string[]
  /** Pending migrations, then pending stored objects, by name. */
  pending: string[]
  /** Recorded migrations this version does not know. */
  unknown: string[]
  migrations: MigrationInfo[]
  objects: ObjectInfo[]
  /** What a newer version recorded: this version's migrate up and down refuse to run. */
  skew: string[]
}

export interface UpResult {
  migrations: string[]
  objects: PendingObject[]
  droppedTriggers: string[]
  /** The dry run's script. */
  script?: string
}

export interface DownResult {
  migrations: string[]
}

export { upOnSession, installScript } from './up.js'
export { downOnSession } from './down.js'
export { statusOnSession } from './status.js'
