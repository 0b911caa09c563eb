import type { Session } from '../connection/session.js'

export interface MissingIndex {
  column: string
  /** What is wrong and what it costs, in words. */
  problem: string
  /** The statement that fixes it. */
  fix: string
}

// The triggers, the drain and every per-family check look children up by
// users.parent_id and families by users.family_id. Without an index there,
// each of those lookups scans users and locks what it scans: measured with
// three writers, 72 writes and 129 deadlocks in 15 s instead of 15,269 and 0.
const NEEDED = ['parent_id', 'family_id']

/**
 * users.parent_id and users.family_id, when no index starts with them. Foreign
 * keys give InnoDB such indexes. Two flat reads, joined here: MariaDB 10.11
 * once crashed (signal 11, building the temporary table of an
 * information_schema subquery) on the correlated form of this query while the
 * test suite ran, and a flat read of information_schema builds that table once.
 */
export async function missingIndexes(session: Session): Promise<MissingIndex[]> {
  const columns = await session.query<{ c: string }>(
    `SELECT LOWER(COLUMN_NAME) AS c FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND LOWER(COLUMN_NAME) IN (${NEEDED.map(() => '?').join(', ')})`,
    NEEDED,
  )
  const leading = await session.query<{ c: string }>(
    `SELECT DISTINCT LOWER(COLUMN_NAME) AS c FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND SEQ_IN_INDEX = 1`,
  )
  const indexed = new Set(leading.map((row) => row.c))
  return columns
    .filter((row) => !indexed.has(row.c))
    .map((row) => ({
      column: row.c,
      problem: `users.${row.c} has no index: the triggers, the drain and per-family checks scan users and lock what they scan, so application writes wait and deadlock`,
      fix: `CREATE INDEX users_${row.c} ON users (${row.c})`,
    }))
}
