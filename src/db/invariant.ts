// The invariant family-sync keeps: a child whose parent has a family shares
// it. A parent whose family_id is NULL constrains nothing. Aliases: c = child,
// p = parent, gp = grandparent. NULL-safe throughout: `!=` against NULL is NULL,
// which is how the bug report's trigger missed the very case it was for.
export const MISMATCH = 'p.family_id IS NOT NULL AND NOT (c.family_id <=> p.family_id)'

export const CHILD_PARENT_JOIN = 'users c STRAIGHT_JOIN users p ON p.id = c.parent_id'

/**
 * The parent is not itself a mismatch, so its family is final: a child of a
 * parent about to change waits for a later pass, and the value written (and
 * audited) is the parent's last one. The subquery reads without locking.
 */
export const PARENT_SETTLED =
  'NOT EXISTS (SELECT 1 FROM users gp WHERE gp.id = p.parent_id AND gp.family_id IS NOT NULL AND NOT (gp.family_id <=> p.family_id))'

export const COUNT_MISMATCHES = `SELECT COUNT(*) AS n FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH}`

/** The mismatches, and how many of them have children of their own (one index probe each). */
export const COUNT_MISMATCHES_WITH_CHILDREN = `SELECT COUNT(*) AS n,
  COALESCE(SUM(EXISTS (SELECT 1 FROM users g WHERE g.parent_id = c.id AND g.id <> c.id)), 0) AS withChildren
  FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH}`

/** The lowest mismatched child id, walking the primary key and stopping at the first hit. */
export const FIRST_MISMATCH = `SELECT c.id FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH} ORDER BY c.id LIMIT 1`
