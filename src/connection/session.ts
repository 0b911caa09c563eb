import type { Knex } from 'knex'

type Row = Record<string, unknown>

interface RawConnection {
  query(sql: string, values: unknown[] | undefined, callback: (error: Error | null, rows: unknown) => void): void
  threadId?: number
}

/**
 * One pinned connection. LOCK TABLES, GET_LOCK and session variables live in a
 * connection, so statements that rely on them must not be spread over a pool.
 */
export class Session {
  constructor(private readonly connection: RawConnection) {}

  get connectionId(): number | undefined {
    return this.connection.threadId
  }

  /** Runs one statement; values are bound by the driver, never concatenated. */
  query<T = Row>(sql: string, values?: unknown[]): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.connection.query(sql, values, (error, rows) => {
        if (error) reject(error)
        else resolve(rows as T[])
      })
    })
  }
}

export async function openSession(knex: Knex): Promise<{ session: Session; release: () => Promise<void> }> {
  const connection = (await knex.client.acquireConnection()) as RawConnection
  return { session: new Session(connection), release: () => knex.client.releaseConnection(connection) }
}

export async function withSession<T>(knex: Knex, work: (session: Session) => Promise<T>): Promise<T> {
  const { session, release } = await openSession(knex)
  try {
    return await work(session)
  } finally {
    await release()
  }
}
