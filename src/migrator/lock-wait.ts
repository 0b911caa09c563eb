import type { Session } from '../connection/session.js'
import { FamilySyncError } from '../errors.js'
import type { Reporter } from '../reporter.js'
import { processRows } from '../db/processlist.js'

export interface LockWaitOptions {
  /** Bound on the whole wait, all attempts together. */
  lockTimeoutSeconds: number
  reporter: Reporter
  /** Called before each retry: the migration lock must still be held. */
  confirm(): Promise<void>
}

const ER_LOCK_WAIT_TIMEOUT = 1205

/**
 * The oldest open transactions other than ours: the likely holders of the
 * metadata lock a DDL statement waits for. Needs PROCESS; without it, null.
 */
export async function describeBlockers(session: Session): Promise<string | null> {
  try {
    const transactions = await session.query<{ id: number; age: number | null }>(
      `SELECT trx_mysql_thread_id AS id, TIMESTAMPDIFF(SECOND, trx_started, NOW()) AS age
       FROM information_schema.INNODB_TRX
       WHERE trx_mysql_thread_id <> CONNECTION_ID() ORDER BY trx_started LIMIT 3`,
    )
    if (transactions.length === 0) return null
    const processes = new Map((await processRows(session, transactions.map((t) => Number(t.id)))).map((p) => [Number(p.id), p]))
    return transactions
      .map((t) => {
        const p = processes.get(Number(t.id))
        const doing = p?.command === 'Sleep' ? 'idle' : (p?.info?.slice(0, 60) ?? p?.command ?? 'busy').replace(/\s+/g, ' ')
        return `connection ${t.id} (${p?.user ?? '?'}@${p?.host ?? '?'}, transaction open ${t.age ?? '?'} s, ${doing})`
      })
      .join(', ')
  } catch {
    return null
  }
}

/**
 * Runs a statement that may wait for a table or metadata lock. The session's
 * lock_wait_timeout is short (--lock-wait), so while it waits, the
 * application's statements queued behind it wait at most that long; then it
 * steps aside, lets them through, and tries again with growing pauses until
 * the overall bound, naming what holds the lock.
 */
export async function runWaitingForLocks(session: Session, sql: string, options: LockWaitOptions): Promise<void> {
  const started = Date.now()
  for (let attempt = 1, pauseMs = 250; ; attempt++, pauseMs = Math.min(pauseMs * 2, 8000)) {
    try {
      await session.run(sql)
      return
    } catch (error) {
      if ((error as { errno?: number }).errno !== ER_LOCK_WAIT_TIMEOUT) throw error
      const blockers = (await describeBlockers(session)) ?? 'another session (grant PROCESS to see which)'
      const what = sql.replace(/\s+/g, ' ').slice(0, 60)
      if (Date.now() - started + pauseMs > options.lockTimeoutSeconds * 1000) {
        throw new FamilySyncError(
          `gave up after ${attempt} attempts in ${Math.round((Date.now() - started) / 1000)} s: '${what}' waits for a lock held by an open transaction, oldest first: ${blockers}; end or commit it, then run migrate up again`,
          { cause: error },
        )
      }
      options.reporter.warn(`'${what}' waited for a lock held by ${blockers}; stepped aside, retrying in ${(pauseMs / 1000).toFixed(2)} s`)
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
      await options.confirm()
    }
  }
}
