import { checkOnSession, type ConsistencyReport } from '../check/consistency.js'
import type { Session } from '../connection/session.js'

/** The whole-table figures serve keeps in memory between scans. */
export interface ScanFigures {
  /** When the scan finished, ms since the epoch. */
  at: number
  durationMs: number
  check: ConsistencyReport
  families: number
  /** How many families have n children, by n. */
  familiesByChildren: Map<number, number>
}

/**
 * One scan of users: check's whole-table figures and the bug report's own
 * (families, children per family). Every statement of it is stopped by the
 * server once the budget is spent (MariaDB's max_statement_time, MySQL's
 * max_execution_time): a scan never runs on into the next one or lets a
 * slow table hold a connection for long. A scrape never runs a scan.
 */
export async function scan(session: Session, budgetSeconds: number): Promise<ScanFigures> {
  const started = Date.now()
  await session.run('SET SESSION max_statement_time = ?', [budgetSeconds]).catch(() => {})
  await session.run('SET SESSION max_execution_time = ?', [Math.round(budgetSeconds * 1000)]).catch(() => {})
  try {
    const check = await checkOnSession(session, { limit: 0 })
    const families = Number(await session.scalar('SELECT COUNT(*) FROM families'))
    const sizes = await session.query<{ children: number; families: number }>(
      `SELECT x.children, COUNT(*) AS families FROM (
         SELECT COUNT(*) AS children FROM users c WHERE c.parent_id IS NOT NULL AND c.family_id IS NOT NULL GROUP BY c.family_id
       ) x GROUP BY x.children`,
    )
    const familiesByChildren = new Map(sizes.map((row) => [Number(row.children), Number(row.families)]))
    const withChildren = [...familiesByChildren.values()].reduce((a, b) => a + b, 0)
    if (families > withChildren) familiesByChildren.set(0, families - withChildren)
    return { at: Date.now(), durationMs: Date.now() - started, check, families, familiesByChildren }
  } finally {
    await session.run('SET SESSION max_statement_time = 0').catch(() => {})
    await session.run('SET SESSION max_execution_time = 0').catch(() => {})
  }
}
