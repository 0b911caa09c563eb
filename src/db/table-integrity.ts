import type { Session } from '../connection/session.js'
import { quoteIdentifier } from '../sql/identifiers.js'
import type { Capabilities } from './capabilities.js'
import type { InstalledTrigger } from './introspect.js'
import { OUR_TABLES, QUEUE_TABLE } from './tables.js'

// What family-sync's own tables must be for its code to mean what it says.
// Its stored programs and commands name them; whoever may create objects in
// the application's schema can put something else under those names: a view
// (whose functions then run with the rights of whoever reads it), a trigger
// (which runs on every write family-sync makes there), or an id so high that
// the next queued change has none left (every family change then fails).

/** The queue's ids are BIGINT UNSIGNED: this many left is nearly none (a few years of a busy queue, or one hostile row). */
const QUEUE_ID_HEADROOM = 2n ** 32n
const QUEUE_ID_MAX = 2n ** 64n - 1n

export interface TableFinding {
  table: string
  problem: string
  /** What migrate up does about it; undefined: it cannot, a person must (a view in a table's place). */
  repair?: { kind: 'drop-trigger'; trigger: string } | { kind: 'renumber-queue' }
}

/** Queue ids at or past this are moved down by migrate up's renumbering. */
export const QUEUE_RENUMBER_FROM = QUEUE_ID_MAX - QUEUE_ID_HEADROOM

/** Runs `read` with the server's table statistics read live, and leaves the session's setting as it was (it may be the application's connection). */
async function withLiveStatistics<T>(session: Session, capabilities: Capabilities, read: () => Promise<T>): Promise<T> {
  const variable = capabilities.tableStatisticsExpiry
  if (!variable) return read()
  const before = await session.scalar<number>(`SELECT @@SESSION.${variable}`)
  await session.run(`SET SESSION ${variable} = 0`)
  try {
    return await read()
  } finally {
    await session.run(`SET SESSION ${variable} = ?`, [before])
  }
}

/** Problems with family-sync's tables as they stand: each names what is wrong and what to run. */
export async function tableFindings(session: Session, capabilities: Capabilities, triggers: readonly InstalledTrigger[]): Promise<TableFinding[]> {
  const findings: TableFinding[] = []
  const rows = await withLiveStatistics(session, capabilities, () =>
    session.query<{ name: string; type: string; next: string | number | null }>(
      `SELECT TABLE_NAME AS name, TABLE_TYPE AS type, CAST(AUTO_INCREMENT AS CHAR) AS next FROM information_schema.TABLES
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${OUR_TABLES.map(() => '?').join(', ')})`,
      [...OUR_TABLES],
    ),
  )
  for (const row of rows) {
    if (row.type !== 'BASE TABLE') {
      const kind = row.type === 'VIEW' ? 'a view' : `a ${row.type.toLowerCase()}`
      findings.push({
        table: row.name,
        problem:
          `${row.name} is ${kind}, not family-sync's table: family-sync's code would read and write whatever it stands for, ` +
          `and run its functions with the rights of the account reading it; drop it and rename family-sync's table back ` +
          `(DROP VIEW ${quoteIdentifier(row.name)}; RENAME TABLE <where it went> TO ${quoteIdentifier(row.name)}), then run family-sync verify`,
      })
    }
    if (row.name === QUEUE_TABLE && row.type === 'BASE TABLE' && row.next !== null) {
      const left = QUEUE_ID_MAX - BigInt(row.next) + 1n
      if (left < QUEUE_ID_HEADROOM) {
        findings.push({
          table: row.name,
          problem:
            `${QUEUE_TABLE} has ${left} ids left (its next id is ${row.next}): once none is left every change of a parent's family fails ` +
            `(error 1467); run family-sync migrate up, which queues its entries again with low ids`,
          repair: { kind: 'renumber-queue' },
        })
      }
    }
  }
  for (const trigger of triggers) {
    if (!OUR_TABLES.includes(trigger.table)) continue
    findings.push({
      table: trigger.table,
      problem:
        `trigger ${trigger.name} (${trigger.timing} ${trigger.event} on ${trigger.table}) is not family-sync's: it runs on every write ` +
        `family-sync makes there and can change or stop the sync; run family-sync migrate up, which drops it`,
      repair: { kind: 'drop-trigger', trigger: trigger.name },
    })
  }
  return findings
}

/**
 * Queues the entries whose ids are near the end again, with low ids: they are
 * read, deleted, the counter lowered to what is left, and inserted anew, as
 * one entry each (what they ask is the same whatever their id). The counter
 * can only be lowered by DDL, which commits: were the run to fail between the
 * delete and the insert, those parents' children would wait for a repair
 * (`family-sync repair` finds them), never for a lost write of the application.
 */
export async function renumberQueue(session: Session): Promise<number> {
  const names = ['parent_id', 'family_id', 'enqueued_at', 'attempts', 'last_error', 'retry_at', 'parked_at', 'resume_from_child', 'claimed_until']
  const columns = names.join(', ')
  const high = await session.query<Record<string, unknown>>(`SELECT ${columns} FROM ${QUEUE_TABLE} WHERE id >= ? ORDER BY id`, [QUEUE_RENUMBER_FROM])
  await session.run(`DELETE FROM ${QUEUE_TABLE} WHERE id >= ?`, [QUEUE_RENUMBER_FROM])
  // InnoDB sets the counter to the highest id left, plus one.
  await session.run(`ALTER TABLE ${QUEUE_TABLE} AUTO_INCREMENT = 1`)
  for (const row of high) {
    await session.run(`INSERT INTO ${QUEUE_TABLE} (${columns}) VALUES (${names.map(() => '?').join(', ')})`, names.map((name) => row[name]) as never[])
  }
  return high.length
}
