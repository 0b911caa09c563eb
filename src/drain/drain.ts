import type { Session } from '../connection/session.js'
import { DRAIN_ENTRIES_PER_CALL } from '../defaults.js'
import { QUEUE_TABLE } from '../db/tables.js'
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
 */
export async function drainCall(session: Session, entriesPerCall: number, pollSeconds = 0): Promise<number> {
  const { value } = await withRetry(async () => {
    await session.run('CALL family_sync_drain(?, ?, @family_sync_applied)', [entriesPerCall, pollSeconds])
    return Number(await session.scalar('SELECT @family_sync_applied'))
  }, Infinity)
  return value
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
