import type { Session } from '../connection/session.js'
import { MISMATCH } from './invariant.js'
import { QUEUE_TABLE } from './tables.js'

export interface Scope {
  /** Selects mismatches with the child's id as `childKey` (an integer, compared exactly), restricted to a scope (all, or one family). */
  sql: string
  bindings: unknown[]
}

/**
 * How many of the mismatches in `scope` queued work will fix: a child whose
 * parent has a live (not parked) queue entry, or whose parent is such a child
 * itself (the drain queues a changed child that has children). UNION, not
 * UNION ALL, stops at a parent_id cycle. Both servers stop a recursive query
 * after 1,000 levels by default (MariaDB's max_recursive_iterations, MySQL's
 * cte_max_recursion_depth); a chain can be deeper, so the limit is lifted for
 * this statement only, in each server's own spelling.
 */
export async function countPending(session: Session, scope: Scope): Promise<number> {
  const lift = (await session.capabilities()).recursionLift
  const n = await session.scalar<number>(
    `${lift}WITH RECURSIVE pending (id) AS (
       SELECT c.id FROM ${QUEUE_TABLE} q JOIN users c ON c.parent_id = q.parent_id JOIN users p ON p.id = c.parent_id
       WHERE q.parked_at IS NULL AND ${MISMATCH}
       UNION
       SELECT c.id FROM pending x JOIN users c ON c.parent_id = x.id JOIN users p ON p.id = c.parent_id WHERE ${MISMATCH}
     )
     SELECT /*+ SET_VAR(cte_max_recursion_depth = 4294967295) */ COUNT(*) FROM pending JOIN (${scope.sql}) m ON m.childKey = pending.id`,
    scope.bindings,
  )
  return Number(n)
}
