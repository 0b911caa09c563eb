import { CHILD_PARENT_JOIN, MISMATCH, PARENT_SETTLED } from '../db/invariant.js'
import { AUDIT_TABLE, QUEUE_TABLE } from '../db/tables.js'

// The statements of one repair batch, shared by the engine (which runs them
// per batch of locked ids) and by `family-sync sql` (which runs them once over
// the whole table): the same audit, the same update.

// The parent has a live queue entry: the drain applies it.
const PARENT_QUEUED = `EXISTS (SELECT 1 FROM ${QUEUE_TABLE} q WHERE q.parent_id = p.id AND q.parked_at IS NULL)`

/**
 * The batch's mismatches whose parent is settled (and, with `skipQueued`, not
 * queued for the drain), at most `limit` of them, locked, none waited for:
 * rows another transaction holds are left for the next pass.
 */
export function lockBatch(range: string, skipQueued: boolean, limit: number): string {
  return `SELECT CAST(c.id AS CHAR) AS id FROM ${CHILD_PARENT_JOIN}
    WHERE ${range} AND ${MISMATCH} AND ${PARENT_SETTLED}${skipQueued ? ` AND NOT ${PARENT_QUEUED}` : ''}
    ORDER BY c.id LIMIT ${Math.max(1, Math.floor(limit))} FOR UPDATE SKIP LOCKED`
}

/** One audit row per child about to change, with its old value; ordered, so a statement-based replica writes the same ids. */
export function auditStatement(children: string): string {
  return `INSERT INTO ${AUDIT_TABLE} (user_id, old_family_id, new_family_id, reason)
    SELECT c.id, c.family_id, p.family_id, ? FROM ${CHILD_PARENT_JOIN}
    WHERE ${children} AND ${MISMATCH} ORDER BY c.id`
}

export function updateStatement(children: string): string {
  return `UPDATE ${CHILD_PARENT_JOIN} SET c.family_id = p.family_id WHERE ${children} AND ${MISMATCH}`
}

/** The script's form of the whole backfill: the settled mismatches of the table, materialised before users changes. */
export const ALL_SETTLED = `c.id IN (SELECT m.id FROM (SELECT c.id FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH} AND ${PARENT_SETTLED} LIMIT 18446744073709551615) m)`
