import type { Session } from '../connection/session.js'

export interface ProcessRow {
  id: number
  user: string | null
  host: string | null
  command: string | null
  time: number | null
  info: string | null
}

// MySQL 8 deprecates information_schema.PROCESSLIST (it takes a global mutex)
// in favour of performance_schema.processlist (8.0.22+); MariaDB has only the
// former. A source counts only when it shows this very connection (a disabled
// performance_schema has the table, empty); the first that does is
// remembered per session.
const SOURCES = ['performance_schema.processlist', 'information_schema.PROCESSLIST']
const chosen = new WeakMap<Session, string>()

/** The processlist rows of these connection ids (those still there). Needs PROCESS to see other accounts' connections. */
export async function processRows(session: Session, ids: number[]): Promise<ProcessRow[]> {
  if (ids.length === 0) return []
  const known = chosen.get(session)
  let lastError: unknown
  for (const source of known ? [known] : SOURCES) {
    try {
      const rows = await session.query<ProcessRow & { self: number }>(
        `SELECT ID AS id, USER AS user, HOST AS host, COMMAND AS command, TIME AS time, INFO AS info, ID = CONNECTION_ID() AS self
         FROM ${source} WHERE ID IN (${ids.map(() => '?').join(', ')}) OR ID = CONNECTION_ID()`,
        ids,
      )
      if (!rows.some((row) => Number(row.self) === 1)) continue
      chosen.set(session, source)
      const wanted = new Set(ids)
      return rows.filter((row) => wanted.has(Number(row.id))).map(({ self: _self, ...row }) => row)
    } catch (error) {
      lastError = error
    }
  }
  if (lastError) throw lastError
  return []
}
