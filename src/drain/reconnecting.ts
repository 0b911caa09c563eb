import { reachBeyondDatabase } from '../db/reach.js'
import { FamilySyncError } from '../errors.js'
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
/**
 * An account whose rights reach beyond this database would run, for as long as
 * the watch lasts, whatever another account with rights here put in place of
 * family_sync_drain, with all those rights.
 */
async function refuseBeyondDatabase(session: Session): Promise<void> {
  const beyond = await reachBeyondDatabase(session)
  if (beyond.length === 0) return
  const who = await session.scalar<string>('SELECT CURRENT_USER()')
  throw new FamilySyncError(
    `${who} may do more than this database needs (${beyond.slice(0, 3).join('; ')}${beyond.length > 3 ? `; ${beyond.length - 3} more` : ''}): ` +
      `a long-running drain as ${who} would run family_sync_drain with those rights, whoever replaced it; run it as an account with ` +
      `SELECT and EXECUTE on this database only (the drain role, see the README's grants), or pass --allow-privileged-account to accept that`,
  )
}

export async function drainUntilStopped(target: ConnectionTarget, first: Session | undefined, options: WatchOptions & { allowPrivilegedAccount?: boolean }): Promise<WatchResult> {
  let held: OpenSession | undefined = first ? { session: first, close: async () => {} } : undefined
  // The session whose account was last found to stay within this database:
  // each new connection is checked before its first call (grants may have
  // changed meanwhile), and a check cut short by a lost connection is redone.
  let checked: Session | undefined
  try {
    return await watchQueue(async (entries, poll) => {
      held ??= await connect(target)
      try {
        if (!options.allowPrivilegedAccount && checked !== held.session) {
          await refuseBeyondDatabase(held.session)
          checked = held.session
        }
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
