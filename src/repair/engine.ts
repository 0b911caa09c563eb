import type { Session } from '../connection/session.js'
import { nextBatchSize } from '../batch-size.js'
import { BATCH_MS } from '../defaults.js'
import { CHILD_PARENT_JOIN, COUNT_MISMATCHES, MISMATCH } from '../db/invariant.js'
import { countPending } from '../db/pending.js'
import { tableExists } from '../db/introspect.js'
import { QUEUE_TABLE } from '../db/tables.js'
import { silentProgress, type Progress } from '../progress.js'
import { auditStatement, lockBatch, updateStatement } from './batch.js'
import { isInterruptedTriggerLoad, isRetryable, withRetry } from '../db/retry.js'

export interface RepairOptions {
  /** Count what would change and change nothing. */
  dryRun?: boolean
  /** Target duration of one batch transaction; batch sizes adapt to it. */
  batchMs?: number
  /** Written to family_sync_audit.reason. */
  reason?: 'repair' | 'backfill' | 'down'
  progress?: Progress
  /** Runs before each batch; throwing stops the repair between two batches (a lost migration lock). */
  beforeBatch?: () => Promise<void>
}

export interface RepairResult {
  fixed: number
  batches: number
  maxBatchMs: number
  durationMs: number
  dryRun: boolean
  passes: number
  retries: number
  /** Mismatches left that no queued work will fix. */
  remaining: number
  /** Mismatches left that queued work will fix (the drain is on it). */
  pending: number
}

const FIRST_BATCH_ROWS = 1000
// Passes in a row that changed nothing because the application held the rows.
const MAX_IDLE_PASSES = 5
// How long batches may keep failing on conflicts before repair gives up.
const STUCK_MS = 60_000

/**
 * Ids travel as text and are bound as BigInt: exact up to 2^63 whatever the
 * driver's number settings, and compared as integers by the server (a quoted
 * string would be compared as a double).
 */
type Id = bigint

/** The id `size` rows after `after` (or from the start): batches follow the rows that exist, not the span of ids. */
async function batchEnd(session: Session, after: Id | null, size: number): Promise<Id | null> {
  const id = after === null
    ? await session.scalar<string>('SELECT CAST(id AS CHAR) FROM users ORDER BY id LIMIT 1 OFFSET ?', [size - 1])
    : await session.scalar<string>('SELECT CAST(id AS CHAR) FROM users WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?', [after, size - 1])
  return id === null ? null : BigInt(id)
}

function rangeOf(after: Id | null, upTo: Id | null): { sql: string; bindings: Id[] } {
  const bounds: Array<[string, Id | null]> = [['c.id > ?', after], ['c.id <= ?', upTo]]
  const given = bounds.filter((bound): bound is [string, Id] => bound[1] !== null)
  return { sql: given.length ? given.map(([sql]) => sql).join(' AND ') : 'TRUE', bindings: given.map(([, id]) => id) }
}

/**
 * One short transaction: lock the batch's settled mismatches without ever
 * waiting (a row the application holds is skipped for a later pass), then
 * audit and update exactly those rows. A transaction that never waits can
 * never be part of a deadlock, so the application's statements never become
 * its victims. READ COMMITTED: only the rows that match are locked, with
 * record locks; under REPEATABLE READ the scan takes next-key locks, and
 * InnoDB was seen waiting on those despite SKIP LOCKED. The triggers skip
 * their per-row lookup for this connection only, because each value is
 * already taken from the locked parent.
 */
async function applyBatch(session: Session, lockSql: string, bindings: unknown[], reason: string): Promise<{ changed: number; locked: Id[]; heldMs: number; workMs: number }> {
  await session.run('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
  const started = Date.now()
  await session.run('START TRANSACTION')
  try {
    await session.run('SET @family_sync_repairing = CONNECTION_ID()')
    const ids = (await session.query<{ id: string }>(lockSql, bindings)).map((row) => BigInt(row.id))
    let changed = 0
    if (ids.length > 0) {
      const audited = await session.run(auditStatement('c.id IN (?)'), [reason, ids])
      const updated = await session.run(updateStatement('c.id IN (?)'), [ids])
      if (updated.affectedRows !== audited.affectedRows) {
        // Rolling back keeps the promise of one exact audit row per changed row.
        throw Object.assign(new Error(`audit drift: ${audited.affectedRows} audit rows for ${updated.affectedRows} changed rows`), { code: 'FAMILY_SYNC_AUDIT_DRIFT' })
      }
      changed = updated.affectedRows
    }
    const workMs = Date.now() - started
    await session.run('COMMIT')
    return { changed, locked: ids, heldMs: Date.now() - started, workMs }
  } catch (error) {
    await session.run('ROLLBACK').catch(() => {})
    throw error
  } finally {
    await session.run('SET @family_sync_repairing = NULL').catch(() => {})
  }
}

// Mismatches whose parent is itself a mismatch all round: a parent_id cycle.
// Fixing its lowest row alone settles the rest on the next pass.
const FIRST_UNSETTLED = `SELECT CAST(c.id AS CHAR) AS id FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH} ORDER BY c.id LIMIT 1 FOR UPDATE SKIP LOCKED`

async function leftOver(session: Session): Promise<{ remaining: number; pending: number }> {
  const all = Number(await session.scalar(COUNT_MISMATCHES))
  if (all === 0 || !(await tableExists(session, QUEUE_TABLE))) return { remaining: all, pending: 0 }
  const pending = await countPending(session, { sql: `SELECT c.id AS childKey FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH}`, bindings: [] })
  return { remaining: all - pending, pending }
}

/**
 * Repairs every mismatch in short transactions over consecutive rows, each
 * sized to about `batchMs`, writing one audit row per changed row with its
 * old value. Its time follows the number of rows, not the span of their ids.
 * Rerunning it after a crash simply continues: each batch commits its
 * changes and their audit rows together. Under steady application writes it
 * ends when what is left is queued work, and reports that as pending.
 */
export async function repairOnSession(session: Session, options: RepairOptions = {}): Promise<RepairResult> {
  const started = Date.now()
  const targetMs = options.batchMs ?? BATCH_MS
  const reason = options.reason ?? 'repair'
  const progress = options.progress ?? silentProgress
  const result: RepairResult = { fixed: 0, batches: 0, maxBatchMs: 0, durationMs: 0, dryRun: !!options.dryRun, passes: 0, retries: 0, remaining: 0, pending: 0 }
  if (options.dryRun) {
    Object.assign(result, await leftOver(session))
    result.fixed = result.remaining + result.pending
    result.durationMs = Date.now() - started
    return result
  }
  if ((await session.scalar(`SELECT c.id FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH} LIMIT 1`)) === null) {
    result.durationMs = Date.now() - started
    return result
  }

  const total = Number(await session.scalar('SELECT COUNT(*) FROM users'))
  let size = FIRST_BATCH_ROWS
  let budget = FIRST_BATCH_ROWS
  let idle = 0
  // Children of a parent with a live queue entry are the drain's work: left to it,
  // repair does not chase writers. On the way down the drain is gone, so it takes them.
  const skipQueued = reason !== 'down' && (await tableExists(session, QUEUE_TABLE))
  // Each pass settles one more level of a chain; no chain is longer than users has rows.
  while (result.passes <= total) {
    result.passes++
    let fixedThisPass = 0
    let visited = 0
    progress.start(total, `${reason} pass ${result.passes}`)
    let stuckSince: number | undefined
    let triggerLoadFailures = 0
    // Nothing before the first mismatch needs a visit: later passes of a deep chain start near its next level.
    const first = await session.scalar<string>(`SELECT CAST(c.id AS CHAR) FROM ${CHILD_PARENT_JOIN} WHERE ${MISMATCH} ORDER BY c.id LIMIT 1`)
    if (first === null) {
      Object.assign(result, { remaining: 0, pending: 0 })
      break
    }
    for (let after: Id | null = BigInt(first) > -(2n ** 63n) ? BigInt(first) - 1n : null, done = false; !done; ) {
      await options.beforeBatch?.()
      const upTo = await batchEnd(session, after, size)
      const range = rangeOf(after, upTo)
      let batch: { changed: number; locked: Id[]; heldMs: number; workMs: number }
      try {
        ;({ value: batch } = await withRetry(() => applyBatch(session, lockBatch(range.sql, skipQueued, budget), range.bindings, reason), 3))
        stuckSince = undefined
        triggerLoadFailures = 0
      } catch (error) {
        // Conflicting writers (on Galera, other nodes' writes abort a batch
        // that holds their rows): a smaller batch holds fewer rows. Given up
        // only after a minute without one batch getting through.
        if (!isRetryable(error) || Date.now() - (stuckSince ??= Date.now()) > STUCK_MS) throw error
        // An interrupted trigger load passes at once; one that keeps failing is a broken trigger.
        if (isInterruptedTriggerLoad(error) && ++triggerLoadFailures >= 5) throw error
        result.retries++
        size = Math.max(1, Math.floor(size / 2))
        budget = Math.max(1, Math.floor(budget / 2))
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200))
        continue
      }
      // A commit costs about the same for one row as for a thousand (an fsync
      // or two: MySQL ships with sync_binlog=1 and innodb_flush_log_at_trx_commit=1),
      // so the next batch is sized on the work before it; a batch sized on the
      // commit too would shrink to a row where commits are slow, and crawl.
      // maxBatchMs reports the whole, commit included.
      const elapsed = batch.workMs
      result.batches++
      result.maxBatchMs = Math.max(result.maxBatchMs, batch.heldMs)
      result.fixed += batch.changed
      fixedThisPass += batch.changed
      // The rows a batch changes cost far more than the rows it only reads:
      // the window of rows read grows freely where nothing needs fixing, the
      // number locked and fixed is held to what fits in the target time.
      const full = batch.locked.length >= budget
      if (batch.locked.length >= budget / 2) budget = nextBatchSize(budget, elapsed, targetMs)
      size = full ? Math.max(budget, Math.floor(size / 2)) : nextBatchSize(size, elapsed, targetMs)
      after = full ? batch.locked[batch.locked.length - 1] : upTo
      visited = Math.min(total, visited + (full ? budget : size))
      progress.update(visited, `${result.fixed} fixed`)
      done = !full && upTo === null
    }
    progress.stop(`${result.fixed} fixed in ${result.batches} batches`)

    const left = await leftOver(session)
    Object.assign(result, left)
    if (left.remaining === 0) break
    if (fixedThisPass === 0) {
      await options.beforeBatch?.()
      const { value, retries } = await withRetry(() => applyBatch(session, FIRST_UNSETTLED, [], reason))
      const broke = value.changed
      result.retries += retries
      result.fixed += broke
      if (broke === 0) {
        // Everything left is held by the application right now: give it a moment.
        if (++idle >= MAX_IDLE_PASSES) break
        await new Promise((resolve) => setTimeout(resolve, 100 * idle))
      }
    } else {
      idle = 0
    }
  }
  result.durationMs = Date.now() - started
  return result
}
