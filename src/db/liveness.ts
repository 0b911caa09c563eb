import type { Session } from '../connection/session.js'

// The event's run holds a named lock for as long as it drains (see
// triggers/family_sync_drain_every_second.sql), and so does one `drain
// --watch` or `serve` at a time: a drain running on this server right now
// shows there, with no write at all. Lock names are per server (on Galera,
// per node) and at most 64 characters, hence a SHA-256 prefix of the database
// name: MySQL 9 has no MD5, and there a call to it would run a stored function
// MD5 of this database, whoever wrote it.
export const EVENT_LOCK_SQL = "CONCAT('family_sync_drain:', LEFT(SHA2(DATABASE(), 256), 40))"
export const WATCH_LOCK_SQL = "CONCAT('family_sync_watch:', LEFT(SHA2(DATABASE(), 256), 40))"

/** The heartbeat in family_sync_drain_runs is written at least this often while a drain runs, and more often only when it applies something. */
export const HEARTBEAT_SECONDS = 60

/**
 * Whether a drain runs on this server now. The event's lock is free for a
 * few milliseconds between two runs, so it is looked at a few times over
 * `withinMs` before the answer is no.
 */
export async function drainRunningHere(session: Session, withinMs = 1500): Promise<boolean> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const held = await session.scalar<number>(`SELECT IS_USED_LOCK(${EVENT_LOCK_SQL}) IS NOT NULL OR IS_USED_LOCK(${WATCH_LOCK_SQL}) IS NOT NULL`)
    if (Number(held) === 1) return true
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Marks this session as a running drain, for `check` to see, when no other
 * watcher on this server does so already; returns whether it now holds the
 * mark. Call again now and then: the mark passes on when its holder stops.
 */
export async function markWatching(session: Session): Promise<boolean> {
  const got = await session.scalar<number>(`SELECT IF(IS_USED_LOCK(${WATCH_LOCK_SQL}) = CONNECTION_ID(), 1, GET_LOCK(${WATCH_LOCK_SQL}, 0))`)
  return Number(got) === 1
}
