import type { Session } from '../connection/session.js'
import { MISMATCH } from './invariant.js'
import type { Scope } from './pending.js'

/**
 * Rows below a mismatched child, at any depth, whose family is not the one
 * the top of their chain will pass down: in a chain whose top changed
 * family, only the first link differs from its parent, yet every link below
 * it will change too. The mismatches themselves are not counted again.
 * UNION stops at a parent_id cycle; the recursion limit is lifted for this
 * statement, as in countPending.
 */
export async function countOutOfStepDescendants(session: Session, scope: Scope): Promise<number> {
  const lift = (await session.capabilities()).recursionLift
  const n = await session.scalar<number>(
    `${lift}WITH RECURSIVE tops (id, target) AS (
       SELECT c.id, p.family_id FROM users c JOIN users p ON p.id = c.parent_id JOIN (${scope.sql}) m ON m.childKey = c.id WHERE ${MISMATCH}
     ), below (id, target) AS (
       SELECT c.id, t.target FROM tops t JOIN users c ON c.parent_id = t.id AND c.id <> t.id
       UNION
       SELECT c.id, b.target FROM below b JOIN users c ON c.parent_id = b.id AND c.id <> b.id
     )
     SELECT /*+ SET_VAR(cte_max_recursion_depth = 4294967295) */ COUNT(DISTINCT b.id) FROM below b JOIN users u ON u.id = b.id
     WHERE NOT (u.family_id <=> b.target) AND b.id NOT IN (SELECT t.id FROM tops t)`,
    scope.bindings,
  )
  return Number(n)
}
