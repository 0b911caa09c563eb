// SPEC §2's mismatch, NULL-safe: a child whose parent has a family it does not
// share. Aliases: c = child, p = parent.
export const MISMATCH = 'p.family_id IS NOT NULL AND NOT (c.family_id <=> p.family_id)'

export const CHILD_PARENT_JOIN = 'users c STRAIGHT_JOIN users p ON p.id = c.parent_id'

/**
 * Mismatched children in an id range whose parent is itself settled (not a
 * mismatch). A child of a parent that is about to change waits for the next
 * pass, so the value written is the parent's final one and the audit row,
 * computed from the same rows, is exact. The LIMIT makes MySQL and MariaDB
 * materialise the set before the UPDATE that joins it changes users.
 */
export function settledMismatches(range: 'bound' | 'all'): string {
  return `
  SELECT c.id AS user_id, c.family_id AS old_family_id, p.family_id AS new_family_id
  FROM ${CHILD_PARENT_JOIN}
  LEFT JOIN users gp ON gp.id = p.parent_id
  WHERE ${range === 'bound' ? 'c.id >= ? AND c.id < ? AND ' : ''}${MISMATCH}
    AND NOT (gp.family_id IS NOT NULL AND NOT (gp.family_id <=> p.family_id))
  LIMIT 18446744073709551615`
}

export const SETTLED_MISMATCHES_IN_RANGE = settledMismatches('bound')

/** The first mismatch of all, settled or not: how a parent_id cycle is broken. */
export const FIRST_MISMATCH = `
  SELECT c.id AS user_id, c.family_id AS old_family_id, p.family_id AS new_family_id
  FROM ${CHILD_PARENT_JOIN}
  WHERE ${MISMATCH}
  ORDER BY c.id
  LIMIT 1`

export const COUNT_MISMATCHES = `SELECT COUNT(*) AS n FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH}`
