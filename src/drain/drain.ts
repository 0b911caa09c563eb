import type { Knex } from 'knex'
import { withSession } from '../connection/session.js'
import { withDeadlockRetry } from '../repair/retry.js'

export interface DrainOptions {
  /** Queue entries one procedure call applies at most. */
  entriesPerCall?: number
}

export interface DrainResult {
  applied: number
  calls: number
  retries: number
  durationMs: number
}

/**
 * One procedure call: each entry it applies is its own transaction inside
 * family_sync_drain, so stopping between calls never leaves half an entry.
 */
export async function drainOnce(knex: Knex, entriesPerCall = 500): Promise<{ applied: number; retries: number }> {
  const { value, retries } = await withDeadlockRetry(() =>
    withSession(knex, async (session) => {
      await session.query('CALL family_sync_drain(?, @family_sync_applied)', [entriesPerCall])
      const [row] = await session.query<{ applied: number | null }>('SELECT @family_sync_applied AS applied')
      return Number(row.applied ?? 0)
    }),
  )
  return { applied: value, retries }
}

// The one loop behind drainSyncQueue and watchSyncQueue: call, count, and
// ask `more` whether to call again.
async function drainLoop(knex: Knex, perCall: number, more: (applied: number, result: DrainResult) => Promise<boolean>): Promise<DrainResult> {
  const started = Date.now()
  const result: DrainResult = { applied: 0, calls: 0, retries: 0, durationMs: 0 }
  let again = true
  while (again) {
    const { applied, retries } = await drainOnce(knex, perCall)
    result.calls++
    result.applied += applied
    result.retries += retries
    again = await more(applied, result)
  }
  result.durationMs = Date.now() - started
  return result
}

/** Drains until the queue has nothing this session can take. */
export async function drainSyncQueue(knex: Knex, options: DrainOptions = {}): Promise<DrainResult> {
  const perCall = options.entriesPerCall ?? 500
  return drainLoop(knex, perCall, async (applied) => applied === perCall)
}

export interface WatchOptions extends DrainOptions {
  signal: AbortSignal
  idleMs?: number
  onApplied?: (applied: number, total: number) => void
}

/** Keeps draining until the signal aborts; the call in hand finishes first. */
export async function watchSyncQueue(knex: Knex, options: WatchOptions): Promise<DrainResult> {
  const perCall = options.entriesPerCall ?? 500
  if (options.signal.aborted) return { applied: 0, calls: 0, retries: 0, durationMs: 0 }
  return drainLoop(knex, perCall, async (applied, result) => {
    if (applied > 0) options.onApplied?.(applied, result.applied)
    if (applied < perCall) await sleep(options.idleMs ?? 200, options.signal)
    return !options.signal.aborted
  })
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
