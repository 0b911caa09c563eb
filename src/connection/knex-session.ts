import { Session, withOwnSqlMode, type DriverConnection } from './session.js'

/**
 * What family-sync needs of an application's knex: to borrow one connection
 * and give it back. Any knex from 2.5 on has this shape, so the application's
 * own knex is accepted whatever its version, and no knex is loaded here.
 */
export interface KnexLike {
  client: {
    acquireConnection(): Promise<unknown>
    releaseConnection(connection: unknown): Promise<unknown>
  }
}

/**
 * Runs `work` on one connection borrowed from the application's pool, with
 * family-sync's sql_mode, and gives the connection back as it was lent.
 * Everything family-sync does for one call runs on this one connection, so a
 * pool of a single connection is enough.
 */
export async function withKnexSession<T>(knex: KnexLike, work: (session: Session) => Promise<T>): Promise<T> {
  const connection = (await knex.client.acquireConnection()) as DriverConnection
  try {
    const session = new Session(connection)
    return await withOwnSqlMode(session, () => work(session))
  } finally {
    await knex.client.releaseConnection(connection)
  }
}
