import type { Knex } from 'knex'
import { FamilySyncError } from '../errors.js'
import { QUEUE_TABLE } from '../objects.js'
import { tableExists } from '../migrator/storage.js'
import { COUNT_MISMATCHES, MISMATCH } from '../repair/mismatch.js'

export interface MismatchRow {
  childId: number
  childUsername: string | null
  childFamilyId: number | null
  parentId: number
  parentUsername: string | null
  parentFamilyId: number
}

export interface ConsistencyReport {
  ok: boolean
  mismatchCount: number
  /** Mismatches that queued work will fix. */
  pendingCount: number
  mismatches: MismatchRow[]
  queue: { pending: number; oldestAgeSeconds: number | null }
  familyId: number | null
}

export interface CheckOptions {
  familyId?: number
  /** Sample rows returned, lowest child id first (default 100). */
  limit?: number
  /** Queued work older than this fails the check (default 60 s, SPEC §6). */
  maxQueueAgeSeconds?: number
}

const COLUMNS = `c.id AS childId, c.username AS childUsername, c.family_id AS childFamilyId,
  p.id AS parentId, p.username AS parentUsername, p.family_id AS parentFamilyId`

// A per-family check is two index lookups, never a scan of users: children of
// the family's parents (users.family_id, then users.parent_id) and members of
// the family whose parent is elsewhere (users.family_id, then the primary key).
export function scopedMismatches(familyId: number | undefined): { sql: string; bindings: unknown[] } {
  if (familyId === undefined) {
    return { sql: `SELECT ${COLUMNS} FROM users c STRAIGHT_JOIN users p ON p.id = c.parent_id WHERE ${MISMATCH}`, bindings: [] }
  }
  return {
    sql: `SELECT ${COLUMNS} FROM users p STRAIGHT_JOIN users c ON c.parent_id = p.id WHERE p.family_id = ? AND ${MISMATCH}
          UNION
          SELECT ${COLUMNS} FROM users c STRAIGHT_JOIN users p ON p.id = c.parent_id WHERE c.family_id = ? AND ${MISMATCH}`,
    bindings: [familyId, familyId],
  }
}

async function rowsOf<T>(knex: Knex, sql: string, bindings: unknown[]): Promise<T[]> {
  const [rows] = (await knex.raw(sql, bindings as Knex.RawBinding[])) as [T[]]
  return rows
}

/**
 * SPEC §6's check: counting happens in SQL and at most `limit` rows come back,
 * whatever the size of users. Works before `migrate up` too (no queue yet).
 */
export async function checkConsistency(knex: Knex, options: CheckOptions = {}): Promise<ConsistencyReport> {
  const limit = options.limit ?? 100
  if (!Number.isInteger(limit) || limit < 0) throw new FamilySyncError(`--limit must be a whole number >= 0, got ${limit}`)
  if (options.familyId !== undefined && !Number.isInteger(options.familyId)) {
    throw new FamilySyncError(`--family must be a whole number, got ${options.familyId}`)
  }
  const maxAge = options.maxQueueAgeSeconds ?? 60
  const scope = scopedMismatches(options.familyId)

  const countSql = options.familyId === undefined
    ? COUNT_MISMATCHES
    : `SELECT COUNT(*) AS n FROM (${scope.sql}) m`
  const [{ n }] = await rowsOf<{ n: number }>(knex, countSql, scope.bindings)
  const mismatchCount = Number(n)
  const mismatches = mismatchCount === 0
    ? []
    : await rowsOf<MismatchRow>(knex, `SELECT * FROM (${scope.sql}) m ORDER BY m.childId LIMIT ?`, [...scope.bindings, limit])

  const queue = { pending: 0, oldestAgeSeconds: null as number | null }
  let pendingCount = 0
  if (await tableExists(knex, QUEUE_TABLE)) {
    const [q] = await rowsOf<{ pending: number; age: string | number | null }>(
      knex,
      `SELECT COUNT(*) AS pending, TIMESTAMPDIFF(MICROSECOND, MIN(enqueued_at), NOW(3)) / 1000000 AS age FROM ${QUEUE_TABLE}`,
      [],
    )
    queue.pending = Number(q.pending)
    queue.oldestAgeSeconds = q.age === null ? null : Math.max(0, Number(q.age))
    if (queue.pending > 0 && mismatchCount > 0) pendingCount = await countPending(knex, scope)
  }
  const ok = mismatchCount === pendingCount && (queue.oldestAgeSeconds === null || queue.oldestAgeSeconds <= maxAge)
  return { ok, mismatchCount, pendingCount, mismatches: mismatches.map(normalizeRow), queue, familyId: options.familyId ?? null }
}

// A mismatch is pending when its parent is queued, or when its parent is a
// pending mismatch itself (the drain re-queues a changed child that has
// children). UNION, not UNION ALL, stops at a parent_id cycle.
async function countPending(knex: Knex, scope: { sql: string; bindings: unknown[] }): Promise<number> {
  const [{ n }] = await rowsOf<{ n: number }>(
    knex,
    `WITH RECURSIVE pending (id) AS (
       SELECT c.id FROM ${QUEUE_TABLE} q JOIN users c ON c.parent_id = q.parent_id JOIN users p ON p.id = c.parent_id WHERE ${MISMATCH}
       UNION
       SELECT c.id FROM pending x JOIN users c ON c.parent_id = x.id JOIN users p ON p.id = c.parent_id WHERE ${MISMATCH}
     )
     SELECT COUNT(*) AS n FROM pending JOIN (${scope.sql}) m ON m.childId = pending.id`,
    scope.bindings,
  )
  return Number(n)
}

function normalizeRow(row: MismatchRow): MismatchRow {
  return {
    childId: Number(row.childId),
    childUsername: row.childUsername,
    childFamilyId: row.childFamilyId === null ? null : Number(row.childFamilyId),
    parentId: Number(row.parentId),
    parentUsername: row.parentUsername,
    parentFamilyId: Number(row.parentFamilyId),
  }
}
