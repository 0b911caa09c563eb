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

/** Drains until the queue has nothing this session can take. */
export async function drainSyncQueue(knex: Knex, options: DrainOptions = {}): Promise<DrainResult> {
  const started = Date.now()
  const perCall = options.entriesPerCall ?? 500
  const result: DrainResult = { applied: 0, calls: 0, retries: 0, durationMs: 0 }
  for (;;) {
    const { applied, retries } = await drainOnce(knex, perCall)
    result.calls++
    result.applied += applied
    result.retries += retries
    if (applied < perCall) break
  }
  result.durationMs = Date.now() - started
  return result
}

export interface WatchOptions extends DrainOptions {
  signal: AbortSignal
  idleMs?: number
  onApplied?: (applied: number, total: number) => void
}

/** Keeps draining until the signal aborts; the call in hand finishes first. */
export async function watchSyncQueue(knex: Knex, options: WatchOptions): Promise<DrainResult> {
  const started = Date.now()
  const perCall = options.entriesPerCall ?? 500
  const result: DrainResult = { applied: 0, calls: 0, retries: 0, durationMs: 0 }
  while (!options.signal.aborted) {
    const { applied, retries } = await drainOnce(knex, perCall)
    result.calls++
    result.applied += applied
    result.retries += retries
    if (applied > 0) options.onApplied?.(applied, result.applied)
    if (applied < perCall) await sleep(options.idleMs ?? 200, options.signal)
  }
  result.durationMs = Date.now() - started
  return result
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
