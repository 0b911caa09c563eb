import type { Session } from '../connection/session.js'
import { addColumnsStatement, missingColumns } from './columns.js'
import { ifInstalled } from './introspect.js'
import { MIGRATION_COLUMNS, MIGRATIONS_DDL, MIGRATIONS_TABLE } from './tables.js'

// INSERT IGNORE: a rerun after a crash between a migration and its record
// must not fail on the record.
export const RECORD_MIGRATION = `INSERT IGNORE INTO ${MIGRATIONS_TABLE} (name, version) VALUES (?, ?)`

/** The migrations family_sync_migrations records as run; none before its first record. */
export async function executedMigrations(session: Session): Promise<string[]> {
  const rows = await ifInstalled(() => session.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY name`), [])
  return rows.map((row) => row.name)
}

export interface MigrationRecord {
  name: string
  executedAt: string
  /** The version of family-sync that ran it; null for records written by 0.2 or earlier. */
  version: string | null
}

/** Each recorded migration with when and by which version it ran. */
export async function migrationRecords(session: Session): Promise<MigrationRecord[]> {
  return ifInstalled(async () => {
    const hasVersion = (await missingColumns(session, MIGRATIONS_TABLE, MIGRATION_COLUMNS)).length === 0
    return session.query<MigrationRecord>(
      `SELECT name, DATE_FORMAT(executed_at, '%Y-%m-%dT%H:%i:%s') AS executedAt, ${hasVersion ? 'version' : 'NULL'} AS version FROM ${MIGRATIONS_TABLE} ORDER BY name`,
    )
  }, [])
}

/** Creates the record table, or brings an older one up to date, so a record can carry its version. */
export async function prepareMigrationRecords(session: Session): Promise<void> {
  await session.run(MIGRATIONS_DDL)
  const missing = await missingColumns(session, MIGRATIONS_TABLE, MIGRATION_COLUMNS)
  if (missing.length > 0) await session.run(addColumnsStatement(MIGRATIONS_TABLE, missing))
}
