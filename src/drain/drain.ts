import type { Session } from '../connection/session.js'
import { DRAIN_ENTRIES_PER_CALL } from '../defaults.js'
import { QUEUE_TABLE } from '../db/tables.js'
import { markWatching, WATCH_LOCK_SQL } from '../db/liveness.js'
import { withRetry } from '../db/retry.js'

export interface DrainOptions {
  /** Queue entries one procedure call applies at most. */
  entriesPerCall?: number
}

export interface DrainResult {
  applied: number
  calls: number
  durationMs: number
  /** Entries that failed and wait for their retry. */
  retrying: number
  /** Entries that failed too often and wait for `drain --retry-parked`. */
  parked: number
}

/**
 * One procedure call. Each entry it applies is its own transaction (or a few,
 * for a big family) inside family_sync_drain, and an entry that fails is
 * marked there, so a call never fails because of one entry. A Galera
 * certification conflict is the exception: the cluster aborts the call from
 * outside, past the procedure's handlers, so the call is run again here, with
 * growing pauses (up to 2 s), for as long as it takes; what it had committed
 * stays committed.
 *
 * A call cut short that way (or by KILL QUERY) can leave its transaction open
 * and its session settings changed: the open transaction is rolled back at
 * once, since the next START TRANSACTION would commit half an entry, and the
 * settings are put back, since the session may be the application's own.
 * With `watching`, the call also marks this session as a running drain for
 * `family-sync check`, unless another watcher on this server already does.
 */
export async function drainCall(session: Session, entriesPerCall: number, pollSeconds = 0, options: { watching?: boolean } = {}): Promise<number> {
  const [saved] = await session.query<{ lockWait: number; concatLen: number }>('SELECT @@SESSION.innodb_lock_wait_timeout AS lockWait, @@SESSION.group_concat_max_len AS concatLen')
  const marked = options.watching ? await markWatching(session) : false
  try {
    const { value } = await withRetry(async () => {
      try {
        await session.run('CALL family_sync_drain(?, ?, @family_sync_applied)', [entriesPerCall, pollSeconds])
        return Number(await session.scalar('SELECT @family_sync_applied'))
      } catch (error) {
        await session.run('ROLLBACK').catch(() => {})
        await session
          .run('SET @family_sync_repairing = NULL, SESSION innodb_lock_wait_timeout = ?, SESSION group_concat_max_len = ?', [saved.lockWait, saved.concatLen])
          .catch(() => {})
        throw error
      }
    }, Infinity)
    return value
  } finally {
    if (marked) await session.run(`DO RELEASE_LOCK(${WATCH_LOCK_SQL})`).catch(() => {})
  }
}

export async function failingEntries(session: Session): Promise<{ retrying: number; parked: number }> {
  const [row] = await session.query<{ retrying: number | null; parked: number | null }>(
    `SELECT SUM(parked_at IS NULL AND (attempts > 0 OR last_error IS NOT NULL)) AS retrying, SUM(parked_at IS NOT NULL) AS parked FROM ${QUEUE_TABLE}`,
  )
  return { retrying: Number(row?.retrying ?? 0), parked: Number(row?.parked ?? 0) }
}

/** Drains until the queue has nothing this session can take now. */
export async function drainOnSession(session: Session, options: DrainOptions = {}): Promise<DrainResult> {
  const started = Date.now()
  const perCall = options.entriesPerCall ?? DRAIN_ENTRIES_PER_CALL
  let applied = 0
  let calls = 0
  for (let last = perCall; last === perCall; calls++) {
    last = await drainCall(session, perCall)
    applied += last
  }
  return { applied, calls, durationMs: Date.now() - started, ...(await failingEntries(session)) }
}

/**
 * Puts parked entries back in line, for five more attempts, and lets entries
 * waiting out a retry pause go now: the next drain tries all of them. Returns
 * how many were parked.
 */
export async function unparkEntries(session: Session): Promise<number> {
  const parked = Number(await session.scalar(`SELECT COUNT(*) FROM ${QUEUE_TABLE} WHERE parked_at IS NOT NULL`))
  await session.run(`UPDATE ${QUEUE_TABLE} SET parked_at = NULL, attempts = 0, retry_at = NULL WHERE parked_at IS NOT NULL OR retry_at IS NOT NULL`)
  return parked
}
