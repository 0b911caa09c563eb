import type { Session } from '../connection/session.js'
import { CHECK_LIMIT, CHECK_LIMIT_MAX, DRAIN_STALE_SECONDS, QUEUE_MAX_AGE_SECONDS } from '../defaults.js'
import { lastDrainAgeSeconds } from '../db/drain-runs.js'
import { COUNT_MISMATCHES_WITH_CHILDREN, MISMATCH } from '../db/invariant.js'
import { ifInstalled, readInstalledThroughStatus, readIsReplica, readServerInfo, tableExists, type ServerInfo } from '../db/introspect.js'
import { missingIndexes } from '../db/indexes.js'
import { drainRunningHere, HEARTBEAT_SECONDS } from '../db/liveness.js'
import { countOutOfStepDescendants } from '../db/descendants.js'
import { countPending, type Scope } from '../db/pending.js'
import { readPrivileges, visibility } from '../db/privileges.js'
import { DRAIN_RUNS_TABLE, OBJECTS_TABLE, QUEUE_TABLE } from '../db/tables.js'
import { FamilySyncError } from '../errors.js'

/** check of one family that does not exist: the CLI exits 2 saying so, serve answers 404. */
export class NoSuchFamilyError extends FamilySyncError {
  constructor(readonly familyId: number | bigint) {
    super(`there is no family ${familyId} (no row with that id in families): check the id`)
    this.name = 'NoSuchFamilyError'
  }
}

/** An id as JSON can carry it exactly: a number up to 2^53, the digits beyond. */
export type Id = number | string

export interface MismatchRow {
  childId: Id
  childUsername: string | null
  childFamilyId: Id | null
  parentId: Id
  parentUsername: string | null
  parentFamilyId: Id
}

export interface ParkedEntry {
  id: Id
  parentId: Id
  attempts: number
  lastError: string | null
}

export interface QueueStatus {
  /** Entries waiting to be applied (parked ones not counted). */
  pending: number
  oldestAgeSeconds: number | null
  /** Entries that failed too often: nothing applies them until `drain --retry-parked`. */
  parked: ParkedEntry[]
  /** Seconds since any server last ran the drain; null if none ever did. */
  lastDrainAgeSeconds: number | null
  /**
   * Whether a drain is expected to run on its own here (the event exists and
   * the server is writable); null when not looked at, because a drain ran lately.
   */
  drainExpected: boolean | null
  /** Whether a drain (the event's run, or a watcher) is running on this server now; null when not looked at. */
  drainRunning: boolean | null
}

export interface ConsistencyReport {
  ok: boolean
  mismatchCount: number
  /** Mismatches that queued work will fix. */
  pendingCount: number
  /**
   * Rows below a mismatched child (its children, theirs, ...) whose family
   * will change once it is settled: out of step with the top of their chain,
   * though each matches its own parent.
   */
  descendantCount: number
  mismatches: MismatchRow[]
  queue: QueueStatus
  familyId: Id | null
  /** Why ok is false, one sentence each. */
  problems: string[]
}

export interface CheckOptions {
  familyId?: number | bigint
  /** Sample rows returned, lowest child id first (default 100). */
  limit?: number
  /** Queued work older than this fails the check (default 10 s). */
  maxQueueAgeSeconds?: number
  /** With the drain event expected to run, no drain for this long fails the check (default 10 s). */
  drainStaleSeconds?: number
}

// Ids as text, exact at any size; childKey keeps the numeric order.
const COLUMNS = `CAST(c.id AS CHAR) AS childId, c.username AS childUsername, CAST(c.family_id AS CHAR) AS childFamilyId,
  CAST(p.id AS CHAR) AS parentId, p.username AS parentUsername, CAST(p.family_id AS CHAR) AS parentFamilyId, c.id AS childKey`

// A per-family check is two index lookups, never a scan of users: children of
// the family's parents (users.family_id, then users.parent_id) and members of
// the family whose parent is elsewhere (users.family_id, then the primary key).
export function scopedMismatches(familyId: number | bigint | undefined): Scope {
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

export function idOf(value: unknown): Id {
  const text = String(value)
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : text
}

const idOrNull = (value: unknown): Id | null => (value === null || value === undefined ? null : idOf(value))

const DRAIN_EVENT = 'family_sync_drain_every_second'

/**
 * Whether the drain event should be running here, and for how long it has
 * been able to. An account without EVENT sees no events: family_sync_status
 * shows it the event as it is, and where that cannot run, what migrate up
 * recorded in family_sync_objects stands in.
 */
async function drainEvent(session: Session, server: ServerInfo): Promise<{ expected: boolean; sinceSeconds: number | null }> {
  if (server.readOnly || (await readIsReplica(session)) === true) return { expected: false, sinceSeconds: null }
  const seesEvents = visibility(await readPrivileges(session, server.currentUser)).events
  if (!seesEvents) {
    const through = await readInstalledThroughStatus(session)
    if (through) {
      const event = through.installed.events.find((e) => e.name === DRAIN_EVENT)
      if (!event) return { expected: false, sinceSeconds: null }
      const [row] = await session.query<{ age: string | number | null }>('SELECT TIMESTAMPDIFF(MICROSECOND, ?, NOW()) / 1000000 AS age', [event.lastAltered || null])
      return { expected: true, sinceSeconds: row?.age === null || row?.age === undefined ? null : Number(row.age) }
    }
  }
  const [found] = seesEvents
    ? await session.query<{ age: string | number | null }>(
        `SELECT TIMESTAMPDIFF(MICROSECOND, LAST_ALTERED, NOW()) / 1000000 AS age FROM information_schema.EVENTS
         WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME = ?`,
        [DRAIN_EVENT],
      )
    : (await tableExists(session, OBJECTS_TABLE))
      ? await session.query<{ age: string | number | null }>(`SELECT TIMESTAMPDIFF(MICROSECOND, installed_at, NOW(3)) / 1000000 AS age FROM ${OBJECTS_TABLE} WHERE name = ?`, [DRAIN_EVENT])
      : []
  return found ? { expected: true, sinceSeconds: found.age === null ? null : Number(found.age) } : { expected: false, sinceSeconds: null }
}

/** The queue and the drain's record in one statement: a healthy check costs two statements beyond the count. */
/**
 * The queue and the drain's record in one statement: a healthy check costs two
 * statements beyond the count. For one family, only the entries of its
 * members (users.family_id, then the queue's parent_id index).
 */
export async function readQueueStatus(session: Session, familyId?: number | bigint): Promise<QueueStatus> {
  const status: QueueStatus = { pending: 0, oldestAgeSeconds: null, parked: [], lastDrainAgeSeconds: null, drainExpected: null, drainRunning: null }
  const members = familyId === undefined ? '' : 'WHERE parent_id IN (SELECT m.id FROM users m WHERE m.family_id = ?)'
  const bindings = familyId === undefined ? [] : [familyId]
  const [q] = (await ifInstalled(() =>
    session.query<{ pending: number | null; parked: number | null; age: string | number | null; drainAge: string | number | null }>(
      `SELECT SUM(parked_at IS NULL) AS pending, SUM(parked_at IS NOT NULL) AS parked,
              TIMESTAMPDIFF(MICROSECOND, MIN(IF(parked_at IS NULL, enqueued_at, NULL)), NOW(3)) / 1000000 AS age,
              (SELECT TIMESTAMPDIFF(MICROSECOND, MAX(last_run_at), NOW(3)) / 1000000 FROM ${DRAIN_RUNS_TABLE}) AS drainAge
       FROM ${QUEUE_TABLE} ${members}`,
      bindings,
    ),
  null)) ?? [{ pending: 0, parked: 0, age: null, drainAge: await lastDrainAgeSeconds(session) }]
  status.pending = Number(q.pending ?? 0)
  status.oldestAgeSeconds = q.age === null ? null : Math.max(0, Number(q.age))
  status.lastDrainAgeSeconds = q.drainAge === null ? null : Math.max(0, Number(q.drainAge))
  if (Number(q.parked ?? 0) > 0) {
    status.parked = (await session.query<{ id: string; parentId: string; attempts: number; lastError: string | null }>(
      `SELECT CAST(id AS CHAR) AS id, CAST(parent_id AS CHAR) AS parentId, attempts, last_error AS lastError
       FROM ${QUEUE_TABLE} ${members ? members + ' AND' : 'WHERE'} parked_at IS NOT NULL ORDER BY id LIMIT 100`,
      bindings,
    )).map((row) => ({ id: idOf(row.id), parentId: idOf(row.parentId), attempts: Number(row.attempts), lastError: row.lastError }))
  }
  return status
}

/**
 * The consistency check: counting happens in SQL and at most `limit` rows
 * come back, whatever the size of users. Also the queue's health: parked
 * entries, queued work waiting too long, and a drain that stopped running.
 * Works before `migrate up` too (no queue yet).
 */
export async function checkOnSession(session: Session, options: CheckOptions = {}): Promise<ConsistencyReport> {
  const limit = options.limit ?? CHECK_LIMIT
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > CHECK_LIMIT_MAX) throw new FamilySyncError(`limit must be a whole number from 0 to ${CHECK_LIMIT_MAX}, got ${limit}`)
  if (options.familyId !== undefined && !(typeof options.familyId === 'bigint' || Number.isSafeInteger(options.familyId))) {
    throw new FamilySyncError(`familyId must be a whole number (a BigInt beyond 2^53), got ${options.familyId}`)
  }
  if (options.familyId !== undefined && Number(await session.scalar('SELECT COUNT(*) FROM families WHERE id = ?', [options.familyId])) === 0) {
    throw new NoSuchFamilyError(options.familyId)
  }
  const maxAge = options.maxQueueAgeSeconds ?? QUEUE_MAX_AGE_SECONDS
  const staleAfter = options.drainStaleSeconds ?? DRAIN_STALE_SECONDS
  const scope = scopedMismatches(options.familyId)

  // Over the whole table one pass counts the mismatches and how many have children of their own:
  // only those can have rows below them out of step, and the recursive count runs only then.
  const [counted] = options.familyId === undefined
    ? await session.query<{ n: number | string; withChildren: number | string | null }>(COUNT_MISMATCHES_WITH_CHILDREN)
    : await session.query<{ n: number | string; withChildren: number | string | null }>(`SELECT COUNT(*) AS n, NULL AS withChildren FROM (${scope.sql}) m`, scope.bindings)
  const mismatchCount = Number(counted.n)
  const mayHaveDescendants = counted.withChildren === null || Number(counted.withChildren) > 0
  // The whole table is read in primary-key order and stops after `limit` rows; a family's two lookups are sorted.
  const mismatches = mismatchCount === 0 || limit === 0
    ? []
    : options.familyId === undefined
      ? await session.query<Record<string, unknown>>(`${scope.sql} ORDER BY c.id LIMIT ?`, [limit])
      : await session.query<Record<string, unknown>>(`SELECT * FROM (${scope.sql}) m ORDER BY m.childKey LIMIT ?`, [...scope.bindings, limit])

  const queue = await readQueueStatus(session, options.familyId)
  const pendingCount = queue.pending > 0 && mismatchCount > 0 ? await countPending(session, scope) : 0
  const descendantCount = mismatchCount > 0 && mayHaveDescendants ? await countOutOfStepDescendants(session, scope) : 0
  const problems: string[] = []
  if (mismatchCount > pendingCount) {
    const below = descendantCount > 0 ? ` (and ${descendantCount} rows below them, which follow once they are settled)` : ''
    problems.push(`${mismatchCount - pendingCount} mismatched children that no queued work will fix${below}: run family-sync repair (and family-sync verify to see why the triggers missed them)`)
  }
  if (queue.parked.length > 0) {
    const first = queue.parked[0]
    problems.push(`${queue.parked.length} queue ${queue.parked.length === 1 ? 'entry is' : 'entries are'} parked after failing ${first.attempts} times (entry ${first.id}, parent ${first.parentId}: ${first.lastError ?? 'unknown error'}): fix the cause, then run family-sync drain --retry-parked`)
  }
  if (queue.oldestAgeSeconds !== null && queue.oldestAgeSeconds > maxAge) {
    problems.push(`queued work has waited ${queue.oldestAgeSeconds.toFixed(1)} s (limit ${maxAge} s): the drain is not keeping up or not running; see family-sync verify`)
  }
  // Whether the event should be running matters only when no drain ran lately.
  // An idle drain records itself once a minute; a running one shows by its lock.
  // One family's answer depends on that family only: the server-wide rules are check's without --family.
  const quietSince = queue.lastDrainAgeSeconds ?? Infinity
  if (options.familyId === undefined && quietSince > staleAfter && (await tableExists(session, QUEUE_TABLE))) {
    const server = await readServerInfo(session)
    const event = await drainEvent(session, server)
    queue.drainExpected = event.expected
    if (event.expected) {
      queue.drainRunning = await drainRunningHere(session)
      // On Galera the event runs on one node: from another, its once-a-minute record is what shows.
      const elsewhere = server.galera && quietSince <= HEARTBEAT_SECONDS + staleAfter
      const quiet = Math.min(quietSince, event.sinceSeconds ?? Infinity)
      if (!queue.drainRunning && !elsewhere && quiet > staleAfter) {
        problems.push(
          `no drain has run for ${Number.isFinite(quiet) ? quiet.toFixed(1) + ' s' : 'as long as the event has existed'} although the drain event should be running ` +
            '(event scheduler off, event disabled, or every drain failing): see family-sync verify, or run family-sync drain --watch',
        )
      }
    }
  }
  for (const index of options.familyId === undefined ? await missingIndexes(session) : []) problems.push(`${index.problem}: ${index.fix}`)
  return {
    ok: problems.length === 0,
    mismatchCount,
    pendingCount,
    descendantCount,
    mismatches: mismatches.map((row) => ({
      childId: idOf(row.childId),
      childUsername: row.childUsername as string | null,
      childFamilyId: idOrNull(row.childFamilyId),
      parentId: idOf(row.parentId),
      parentUsername: row.parentUsername as string | null,
      parentFamilyId: idOf(row.parentFamilyId),
    })),
    queue,
    familyId: options.familyId === undefined ? null : idOf(options.familyId),
    problems,
  }
}
