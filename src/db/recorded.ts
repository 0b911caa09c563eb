import type { Session } from '../connection/session.js'
import { ifInstalled } from './introspect.js'
import { MIGRATIONS_TABLE } from './tables.js'

// INSERT IGNORE: a rerun after a crash between a migration and its record
// must not fail on the record.
export const RECORD_MIGRATION = `INSERT IGNORE INTO ${MIGRATIONS_TABLE} (name) VALUES (?)`

/** The migrations family_sync_migrations records as run; none before its first record. */
export async function executedMigrations(session: Session): Promise<string[]> {
  const rows = await ifInstalled(() => session.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY name`), [])
  return rows.map((row) => row.name)
}
