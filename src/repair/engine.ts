import type { Knex } from 'knex'
import { withSession, type Session } from '../connection/session.js'
import { silentProgress, type Progress } from '../progress.js'
import { AUDIT_TABLE } from '../objects.js'
import { withDeadlockRetry } from './retry.js'
import { COUNT_MISMATCHES, FIRST_MISMATCH, SETTLED_MISMATCHES_IN_RANGE } from './mismatch.js'

export interface RepairOptions {
  /** Report what would change and change nothing. */
  dryRun?: boolean
  /** Target duration of one batch transaction; batch sizes adapt to it. */
  batchMs?: number
  /** Written to family_sync_audit.reason. */
  reason?: 'repair' | 'backfill' | 'down'
  progress?: Progress
}

export interface RepairResult {
  fixed: number
  batches: number
  maxBatchMs: number
  durationMs: number
  dryRun: boolean
  passes: number
  retries: number
  remaining: number
}

const FIRST_BATCH_IDS = 1000
const MIN_BATCH_IDS = 50
const MAX_BATCH_IDS = 1_000_000
// A chain deeper than this is not a family tree; the rest is left for a rerun.
const MAX_PASSES = 100

async function scalar(knex: Knex, sql: string, bindings: Knex.RawBinding[] = []): Promise<number | null> {
  const [rows] = (await knex.raw(sql, bindings)) as [Array<Record<string, unknown>>]
  const value = Object.values(rows[0] ?? {})[0]
  return value === null || value === undefined ? null : Number(value)
}

/**
 * Repairs every mismatch (SPEC §2) in short transactions over primary-key
 * ranges, each sized to about `batchMs`, writing one audit row per changed
 * row with its old value. Rerunning it after a crash simply continues: each
 * batch commits its changes and their audit rows together.
 */
export async function repairFamilyIds(knex: Knex, options: RepairOptions = {}): Promise<RepairResult> {
  const started = Date.now()
  const targetMs = options.batchMs ?? 100
  const reason = options.reason ?? 'repair'
  const progress = options.progress ?? silentProgress
  const result: RepairResult = { fixed: 0, batches: 0, maxBatchMs: 0, durationMs: 0, dryRun: !!options.dryRun, passes: 0, retries: 0, remaining: 0 }

  if (options.dryRun) {
    result.fixed = (await scalar(knex, COUNT_MISMATCHES)) ?? 0
    result.remaining = result.fixed
    result.durationMs = Date.now() - started
    return result
  }

  let size = FIRST_BATCH_IDS
  // Known only when a pass finds nothing left to start from; otherwise counted at the end.
  let remaining: number | null = null
  while (result.passes < MAX_PASSES) {
    // ORDER BY ... LIMIT 1 walks the primary key and stops at the first hit;
    // MIN() over the join reads the whole table even when the answer is its first row.
    const from = await scalar(knex, FIRST_MISMATCH)
    if (from === null) {
      remaining = 0
      break
    }
    const last = (await scalar(knex, 'SELECT MAX(id) AS n FROM users')) ?? from
    result.passes++
    let fixedThisPass = 0
    progress.start(last - from + 1, `${reason} pass ${result.passes}`)
    for (let lo = from; lo <= last; ) {
      const hi = lo + size
      const batchStart = Date.now()
      const { value: changed, retries } = await withDeadlockRetry(() => applyBatch(knex, lo, hi, reason))
      const elapsed = Date.now() - batchStart
      result.retries += retries
      result.batches++
      result.maxBatchMs = Math.max(result.maxBatchMs, elapsed)
      fixedThisPass += changed
      result.fixed += changed
      size = nextBatchSize(size, elapsed, targetMs)
      lo = hi
      progress.update(Math.min(lo, last + 1) - from, `${result.fixed} fixed`)
    }
    progress.stop(`${result.fixed} fixed in ${result.batches} batches`)
    if (fixedThisPass === 0) {
      // Only mismatches whose parent is itself a mismatch remain: a parent_id
      // cycle. Fixing its lowest row alone settles the rest on the next pass.
      const { value: broke, retries } = await withDeadlockRetry(() => applyFirstMismatch(knex, reason))
      result.retries += retries
      result.fixed += broke
      if (broke === 0) break
    }
  }
  result.remaining = remaining ?? (await scalar(knex, COUNT_MISMATCHES)) ?? 0
  result.durationMs = Date.now() - started
  return result
}

function nextBatchSize(size: number, elapsedMs: number, targetMs: number): number {
  const factor = Math.min(2, Math.max(0.5, targetMs / Math.max(elapsedMs, 1)))
  return Math.min(MAX_BATCH_IDS, Math.max(MIN_BATCH_IDS, Math.round(size * factor)))
}

/**
 * One repair transaction on a pinned connection. The session flag that lets the
 * triggers skip their per-row work is set inside it and cleared in `finally`,
 * so a connection returned to the application's pool never carries it.
 */
async function inRepairTransaction(knex: Knex, work: (session: Session) => Promise<number>): Promise<number> {
  return withSession(knex, async (session) => {
    // Outside the transaction: MySQL with GTIDs refuses CREATE TEMPORARY TABLE inside one.
    await session.query(BATCH_TABLE_DDL)
    try {
      await session.query('START TRANSACTION')
      await session.query('SET @family_sync_repairing = 1')
      const changed = await work(session)
      await session.query('COMMIT')
      return changed
    } catch (error) {
      await session.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      await session.query('SET @family_sync_repairing = NULL').catch(() => {})
    }
  })
}

async function applyBatch(knex: Knex, lo: number, hi: number, reason: string): Promise<number> {
  return inRepairTransaction(knex, async (session) => {
    // Children first, with exclusive locks, then parents (read by the join):
    // the order the application's child writes take, so neither waits on the other in a cycle.
    await session.query('SELECT COUNT(*) AS n FROM users WHERE id >= ? AND id < ? FOR UPDATE', [lo, hi])
    return auditThenUpdate(session, SETTLED_MISMATCHES_IN_RANGE, [lo, hi], reason)
  })
}

async function applyFirstMismatch(knex: Knex, reason: string): Promise<number> {
  return inRepairTransaction(knex, async (session) => {
    const rows = await session.query<{ user_id: number }>(`${FIRST_MISMATCH} FOR UPDATE`)
    if (rows.length === 0) return 0
    const one = `SELECT m.* FROM (${FIRST_MISMATCH}) m WHERE m.user_id = ? LIMIT 18446744073709551615`
    return auditThenUpdate(session, one, [rows[0].user_id], reason)
  })
}

// The batch's rows are computed once into a per-session table, then audited
// and applied from it: the join runs once per batch instead of twice.
const BATCH_TABLE = 'family_sync_batch'
const BATCH_TABLE_DDL = `CREATE TEMPORARY TABLE IF NOT EXISTS ${BATCH_TABLE} (
  user_id BIGINT NOT NULL PRIMARY KEY, old_family_id BIGINT NULL, new_family_id BIGINT NULL
) ENGINE=MEMORY`

async function auditThenUpdate(session: Session, rowsSql: string, bindings: unknown[], reason: string): Promise<number> {
  await session.query(`DELETE FROM ${BATCH_TABLE}`)
  await session.query(`INSERT INTO ${BATCH_TABLE} (user_id, old_family_id, new_family_id) SELECT m.user_id, m.old_family_id, m.new_family_id FROM (${rowsSql}) m`, bindings)
  const audited = (await session.query(
    `INSERT INTO ${AUDIT_TABLE} (user_id, old_family_id, new_family_id, reason) SELECT user_id, old_family_id, new_family_id, ? FROM ${BATCH_TABLE}`,
    [reason],
  )) as unknown as { affectedRows: number }
  const updated = (await session.query(
    `UPDATE users u JOIN ${BATCH_TABLE} b ON b.user_id = u.id SET u.family_id = b.new_family_id`,
  )) as unknown as { affectedRows: number }
  if (updated.affectedRows !== audited.affectedRows) {
    // Rolling back keeps the promise of one exact audit row per changed row.
    throw Object.assign(new Error(`audit drift: ${audited.affectedRows} audit rows for ${updated.affectedRows} changed rows`), {
      code: 'FAMILY_SYNC_AUDIT_DRIFT',
    })
  }
  return updated.affectedRows
}
