import { connect, type OpenSession } from '../connection/connect.js'
import type { Session } from '../connection/session.js'
import { isTransient } from '../connection/transient.js'
import type { ConnectionTarget } from '../connection/url.js'
import { drainCall } from './drain.js'
import { watchQueue, type WatchOptions, type WatchResult } from './watch.js'

/**
 * Drains until `signal` aborts, as a sidecar does (drain --watch, serve):
 * starting on `first` if given, and after a server restart or a dropped
 * connection on a new connection to `target`, with growing pauses. It marks
 * itself as a running drain for `family-sync check` meanwhile.
 */
export async function drainUntilStopped(target: ConnectionTarget, first: Session | undefined, options: WatchOptions): Promise<WatchResult> {
  let held: OpenSession | undefined = first ? { session: first, close: async () => {} } : undefined
  try {
    return await watchQueue(async (entries, poll) => {
      held ??= await connect(target)
      try {
        return await drainCall(held.session, entries, poll, { watching: true })
      } catch (error) {
        if (isTransient(error)) {
          await held.close().catch(() => {})
          held = undefined
        }
        throw error
      }
    }, options)
  } finally {
    await held?.close().catch(() => {})
  }
}
