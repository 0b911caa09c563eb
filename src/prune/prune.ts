import type { Session } from '../connection/session.js'
import { BATCH_MS } from '../defaults.js'
import { tableExists } from '../db/introspect.js'
import { AUDIT_TABLE } from '../db/tables.js'
import { silentProgress, type Progress } from '../progress.js'
import { nextBatchSize } from '../batch-size.js'

export interface PruneOptions {
  /** Audit rows older than this many days go. */
  olderThanDays: number
  /** Count what would go, delete nothing. */
  dryRun?: boolean
  /** Target duration of one delete transaction. */
  batchMs?: number
  progress?: Progress
}

export interface PruneResult {
  /** Rows deleted (with dryRun: rows that would be). */
  deleted: number
  batches: number
  /** Rows changed before this instant were pruned. */
  cutoff: string
  dryRun: boolean
  durationMs: number
}

const FIRST_BATCH_ROWS = 1000

/**
 * Deletes family_sync_audit rows older than the cutoff, in short READ
 * COMMITTED transactions sized to about `batchMs` (no gap locks, so the
 * drain's and repair's audit inserts never wait long), never touching users.
 * The audit is written in time order, so the old rows are the start of its
 * primary key: the first row that stays bounds every batch, and no batch
 * scans the rows that stay.
 */
export async function pruneOnSession(session: Session, options: PruneOptions): Promise<PruneResult> {
  const started = Date.now()
  const cutoff = String(await session.scalar("SELECT DATE_FORMAT(NOW(3) - INTERVAL ? DAY, '%Y-%m-%d %H:%i:%s.%f')", [options.olderThanDays]))
  const result: PruneResult = { deleted: 0, batches: 0, cutoff, dryRun: !!options.dryRun, durationMs: 0 }
  if (!(await tableExists(session, AUDIT_TABLE))) return { ...result, durationMs: Date.now() - started }
  const kept = await session.scalar<string>(`SELECT CAST(MIN(x.id) AS CHAR) FROM (SELECT id FROM ${AUDIT_TABLE} WHERE changed_at >= ? ORDER BY id LIMIT 1) x`, [cutoff])
  const bound = kept === null ? null : BigInt(kept)
  const scope = `changed_at < ?${bound === null ? '' : ' AND id < ?'}`
  const bindings = bound === null ? [cutoff] : [cutoff, bound]
  const total = Number(await session.scalar(`SELECT COUNT(*) FROM ${AUDIT_TABLE} WHERE ${scope}`, bindings))
  if (options.dryRun || total === 0) return { ...result, deleted: options.dryRun ? total : 0, durationMs: Date.now() - started }
  const progress = options.progress ?? silentProgress
  const target = options.batchMs ?? BATCH_MS
  progress.start(total, 'prune')
  for (let size = FIRST_BATCH_ROWS; ; ) {
    const batchStarted = Date.now()
    await session.run('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
    const { affectedRows } = await session.run(`DELETE FROM ${AUDIT_TABLE} WHERE ${scope} ORDER BY id LIMIT ${size}`, bindings)
    if (affectedRows === 0) break
    result.deleted += affectedRows
    result.batches++
    progress.update(result.deleted, `${result.deleted} deleted`)
    size = nextBatchSize(size, Date.now() - batchStarted, target)
  }
  progress.stop(`${result.deleted} audit rows deleted in ${result.batches} batches`)
  return { ...result, durationMs: Date.now() - started }
}
