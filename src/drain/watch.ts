import { isTransient } from '../connection/transient.js'
import { DRAIN_ENTRIES_PER_CALL, WATCH_POLL_SECONDS } from '../defaults.js'
import { isRetryable } from '../db/retry.js'
import { sleep } from '../sleep.js'

/** One call of family_sync_drain on whatever connection the caller keeps: (entries, poll seconds) -> applied. */
export type DrainCall = (entriesPerCall: number, pollSeconds: number) => Promise<number>

export interface WatchOptions {
  signal: AbortSignal
  entriesPerCall?: number
  /** How long each call keeps polling inside the server when the queue is empty (default 1 s). */
  pollSeconds?: number
  onApplied?: (applied: number, total: number) => void
  /** Once per outage, when the connection is lost or cannot be made. */
  onOutage?: (error: unknown) => void
  /** When draining resumes after an outage. */
  onRecovered?: (downMs: number) => void
}

export interface WatchResult {
  applied: number
  calls: number
  outages: number
  durationMs: number
}


/**
 * Keeps draining until the signal aborts; the call in hand finishes first.
 * Each call polls inside the server for up to a second, so an idle watch
 * sends about one statement a second. When the server restarts or the
 * connection drops, it reconnects with growing pauses (up to 10 s), reports
 * the outage once and carries on; any other failure ends it.
 */
export async function watchQueue(call: DrainCall, options: WatchOptions): Promise<WatchResult> {
  const started = Date.now()
  const perCall = options.entriesPerCall ?? DRAIN_ENTRIES_PER_CALL
  const poll = options.pollSeconds ?? WATCH_POLL_SECONDS
  const result: WatchResult = { applied: 0, calls: 0, outages: 0, durationMs: 0 }
  let downSince: number | undefined
  let pauseMs = 500
  while (!options.signal.aborted) {
    try {
      const applied = await call(perCall, poll)
      if (downSince !== undefined) {
        options.onRecovered?.(Date.now() - downSince)
        downSince = undefined
        pauseMs = 500
      }
      result.calls++
      result.applied += applied
      if (applied > 0) options.onApplied?.(applied, result.applied)
    } catch (error) {
      // Conflicts that outlasted drainCall's own retries: a sidecar keeps going.
      if (isRetryable(error)) {
        await sleep(1000, options.signal)
        continue
      }
      if (!isTransient(error)) throw error
      if (downSince === undefined) {
        downSince = Date.now()
        result.outages++
        options.onOutage?.(error)
      }
      await sleep(pauseMs, options.signal)
      pauseMs = Math.min(pauseMs * 2, 10_000)
    }
  }
  result.durationMs = Date.now() - started
  return result
}
