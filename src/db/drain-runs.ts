import type { Session } from '../connection/session.js'
import { ifInstalled } from './introspect.js'
import { DRAIN_RUNS_TABLE } from './tables.js'

/**
 * Seconds since any server last ran the drain, or null if none ever did. The
 * record replicates, so a replica or another Galera node sees the primary's.
 */
export async function lastDrainAgeSeconds(session: Session): Promise<number | null> {
  const age = await ifInstalled(() => session.scalar<string | number>(`SELECT TIMESTAMPDIFF(MICROSECOND, MAX(last_run_at), NOW(3)) / 1000000 FROM ${DRAIN_RUNS_TABLE}`), null)
  return age === null ? null : Math.max(0, Number(age))
}
