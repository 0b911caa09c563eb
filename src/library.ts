import { checkOnSession, type CheckOptions, type ConsistencyReport } from './check/consistency.js'
import { withKnexSession, type KnexLike } from './connection/knex-session.js'
import { drainCall, drainOnSession, unparkEntries, type DrainOptions, type DrainResult } from './drain/drain.js'
import { watchQueue, type WatchOptions, type WatchResult } from './drain/watch.js'
import { isRetryable } from './db/retry.js'
import { pruneOnSession, type PruneOptions, type PruneResult } from './prune/prune.js'
import { repairOnSession, type RepairOptions, type RepairResult } from './repair/engine.js'
import { verifyOnSession, type VerifyReport } from './verify/verify.js'

// The library: each function takes the application's knex, borrows one
// connection for the length of the call, and never closes the knex.

/** Mismatches, queued work and the drain's health, for one family or all. */
export function checkConsistency(knex: KnexLike, options?: CheckOptions): Promise<ConsistencyReport> {
  return withKnexSession(knex, (session) => checkOnSession(session, options))
}

/** The stored objects against triggers/, and foreign triggers on users. */
export function verifyTriggers(knex: KnexLike): Promise<VerifyReport> {
  return withKnexSession(knex, (session) => verifyOnSession(session))
}

/** Repairs every mismatch in short audited batches. */
export function repairFamilyIds(knex: KnexLike, options?: RepairOptions): Promise<RepairResult> {
  return withKnexSession(knex, (session) => repairOnSession(session, options))
}

/** Deletes audit rows older than `olderThanDays`, in short batches that never touch users. */
export function pruneAudit(knex: KnexLike, options: PruneOptions): Promise<PruneResult> {
  return withKnexSession(knex, (session) => pruneOnSession(session, options))
}

/** Applies queued work now; with `retryParked`, parked entries are tried again first. */
export function drainSyncQueue(knex: KnexLike, options: DrainOptions & { retryParked?: boolean } = {}): Promise<DrainResult & { unparked: number }> {
  return withKnexSession(knex, async (session) => {
    const unparked = options.retryParked ? await unparkEntries(session) : 0
    return { ...(await drainOnSession(session, options)), unparked }
  })
}

/** Keeps draining until `signal` aborts, across server restarts: each call borrows a connection, so a broken one is simply not used again. */
export function watchSyncQueue(knex: KnexLike, options: WatchOptions): Promise<WatchResult> {
  return watchQueue((entries, poll) => withKnexSession(knex, (session) => drainCall(session, entries, poll, { watching: true })), options)
}

/** What runs a statement inside the application's transaction: a knex transaction (`trx`), or a knex bound to one connection. */
export interface RawRunner {
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<unknown>
}

/**
 * Moves a parent's children (and theirs) to the parent's family inside the
 * application's own transaction, right after it changed that family: later
 * statements of the transaction see them moved (a family deleted next no
 * longer has them). Without it they follow after the commit.
 *
 *   await knex.transaction(async (trx) => {
 *     await trx('users').update({ family_id: 42 }).where({ id: 7 })
 *     await moveChildren(trx, 7)
 *     await trx('families').delete().where({ id: 41 })
 *   })
 */
export async function moveChildren(trx: RawRunner, parentId: number | bigint | string): Promise<void> {
  await trx.raw('CALL family_sync_move_children(?)', [parentId])
}

/**
 * Whether a write that failed can simply be run again, the server having
 * rolled it back: a deadlock or Galera certification conflict, a lock wait
 * timeout, or MariaDB's error 1064 "Trigger ... has an error in its body" for
 * a statement interrupted while it loaded the triggers of users (on Galera,
 * what a certification conflict sometimes looks like). A trigger that really
 * does not load fails every time: bound the retries.
 */
export function isRetryableWriteError(error: unknown): boolean {
  return isRetryable(error)
}
