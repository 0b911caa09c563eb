import type { Session } from '../connection/session.js'
import { ifInstalled } from '../db/introspect.js'
import { DRAIN_LOG_TABLE } from '../db/tables.js'

export interface DrainOutcome {
  outcome: 'applied' | 'failed' | 'parked'
  /** applied: seconds from the parent's change (enqueued) to its children matching it. */
  delaySeconds: number | null
}

/**
 * Follows family_sync_drain_log from where it stood when serve started:
 * every entry any drain applied, failed or parked since, on this server or
 * (replicated) another, each seen once.
 */
export class DrainLogFollower {
  private after: bigint | null = null

  async poll(session: Session, each: (outcome: DrainOutcome) => void): Promise<void> {
    if (this.after === null) {
      const last = await ifInstalled(() => session.scalar<string>(`SELECT CAST(COALESCE(MAX(id), 0) AS CHAR) FROM ${DRAIN_LOG_TABLE}`), null)
      if (last !== null) this.after = BigInt(last)
      return
    }
    for (;;) {
      const rows: Array<{ id: string; outcome: string; delay: number | null }> = await session.query(
        `SELECT CAST(id AS CHAR) AS id, outcome, delay_ms AS delay FROM ${DRAIN_LOG_TABLE} WHERE id > ? ORDER BY id LIMIT 5000`,
        [this.after],
      )
      for (const row of rows as Array<{ id: string; outcome: string; delay: number | null }>) {
        each({ outcome: row.outcome as DrainOutcome['outcome'], delaySeconds: row.delay === null ? null : Number(row.delay) / 1000 })
        this.after = BigInt(row.id)
      }
      if (rows.length < 5000) return
    }
  }
}
