import { driverOptions } from '../connection/options.js'
import type { ConnectionTarget } from '../connection/url.js'
import { MIGRATIONS_TABLE } from '../objects.js'

const ER_NO_SUCH_TABLE = 1146

/**
 * The migration names recorded in family_sync_migrations, read over one bare
 * mysql2 connection. A deploy job's `migrate up` usually finds everything
 * recorded; answering that without loading knex and Umzug is most of its
 * start-up time.
 */
export async function recordedMigrations(target: ConnectionTarget): Promise<Set<string>> {
  const { createConnection } = await import('mysql2/promise')
  const connection = await createConnection(driverOptions(target))
  try {
    const [rows] = await connection.query(`SELECT name FROM ${MIGRATIONS_TABLE}`)
    return new Set((rows as Array<{ name: string }>).map((row) => row.name))
  } catch (error) {
    // The table is created with the first record: no table, nothing recorded.
    if ((error as { errno?: number }).errno === ER_NO_SUCH_TABLE) return new Set()
    throw error
  } finally {
    await connection.end()
  }
}
