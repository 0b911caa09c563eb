/**
 * What a migration does, described rather than done: the runner turns each
 * step into server work (apply), into a client-ready script with notes as
 * comments (dry-run, `family-sync sql`), or both. Migrations never ask which.
 */
export type Step =
  /** Read-only checks of the server, the application's tables and the grants; stops before any change. */
  | { kind: 'preflight' }
  /** A statement on family-sync's own tables; it may wait for a metadata lock. */
  | { kind: 'ddl'; sql: string }
  /** Adds the columns of one of family-sync's tables that an older install lacks. */
  | { kind: 'columns'; table: string; columns: ReadonlyArray<[name: string, definition: string]> }
  /** Installs or replaces a stored object of triggers/. */
  | { kind: 'install'; object: string }
  | { kind: 'drop'; object: string }
  /** Repairs every existing mismatch, audited. */
  | { kind: 'backfill' }
  /** Applies queued work with the drain procedure, before it goes. */
  | { kind: 'drain' }
  /** Applies what is left in the queue without the procedure (it is gone), before the queue goes. */
  | { kind: 'settle-queue' }

export interface Migration {
  name: string
  up: readonly Step[]
  down: readonly Step[]
}
