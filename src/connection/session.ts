import { SQL_MODE } from '../defaults.js'
import { capabilitiesOf, type Capabilities } from '../db/capabilities.js'

export type Row = Record<string, unknown>

/** What the driver answers for a statement that returns no rows. */
export interface OkPacket {
  affectedRows: number
  insertId?: number | string
}

/** A mysql2 (or mysql) connection in its callback form, as knex's pool hands it out. */
export interface DriverConnection {
  query(sql: string, values: unknown, callback: (error: Error | null, result: unknown) => void): void
  threadId?: number | null
}

// Every statement family-sync sends carries this, so a DBA can tell them apart
// in the processlist, the slow log and performance_schema.
const TAG = '/* family-sync */ '

/**
 * One pinned connection. Locks, transactions and session variables live in a
 * connection, so everything family-sync does for one call runs on one of
 * these: an application's pool of a single connection is enough.
 */
export class Session {
  private profile: Promise<Capabilities> | undefined

  constructor(readonly connection: DriverConnection) {}

  /** What the server answering can do, asked once per session: a few statements are spelled differently. */
  capabilities(): Promise<Capabilities> {
    return (this.profile ??= this.scalar<string>('SELECT VERSION()').then((version) => capabilitiesOf(version ?? '')))
  }

  get connectionId(): number | undefined {
    return this.connection.threadId ?? undefined
  }

  private send(sql: string, values?: readonly unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      // Values are bound by the driver, never pasted into the text.
      this.connection.query(TAG + sql, values ?? [], (error, result) => (error ? reject(error) : resolve(result)))
    })
  }

  /** The rows of a statement that returns rows. */
  async query<T = Row>(sql: string, values?: readonly unknown[]): Promise<T[]> {
    return (await this.send(sql, values)) as T[]
  }

  /** A statement that changes something; its OK packet. */
  async run(sql: string, values?: readonly unknown[]): Promise<OkPacket> {
    const result = await this.send(sql, values)
    // A CALL answers with its result sets followed by the OK packet.
    return (Array.isArray(result) ? result[result.length - 1] : result) as OkPacket
  }

  /** Every result set of a statement that returns several (a CALL), without the OK packet that ends them. */
  async resultSets<T = Row>(sql: string, values?: readonly unknown[]): Promise<T[][]> {
    const result = await this.send(sql, values)
    return (Array.isArray(result) ? result : []).filter((set): set is T[] => Array.isArray(set))
  }

  /** The first column of the first row, or null. */
  async scalar<T = unknown>(sql: string, values?: readonly unknown[]): Promise<T | null> {
    const [row] = await this.query(sql, values)
    const value = row === undefined ? undefined : Object.values(row)[0]
    return value === undefined || value === null ? null : (value as T)
  }
}

/**
 * Gives the session family-sync's own sql_mode for the duration of `work` and
 * puts the caller's back afterwards: a server-wide ANSI_QUOTES or
 * NO_BACKSLASH_ESCAPES must not change how our statements parse, and an
 * application's pooled connection must come back as it was lent.
 */
export async function withOwnSqlMode<T>(session: Session, work: () => Promise<T>): Promise<T> {
  const previous = await session.scalar<string>('SELECT @@SESSION.sql_mode')
  const differs = previous !== SQL_MODE
  if (differs) await session.run(`SET SESSION sql_mode = '${SQL_MODE}'`)
  try {
    return await work()
  } finally {
    if (differs) await session.run('SET SESSION sql_mode = ?', [previous ?? '']).catch(() => {})
  }
}
