import type { Knex } from 'knex'
import type { UmzugStorage } from 'umzug'
import { MIGRATIONS_TABLE } from '../objects.js'

export const MIGRATIONS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  name VARCHAR(255) NOT NULL PRIMARY KEY,
  executed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB`

export const RECORD_MIGRATION = `INSERT IGNORE INTO ${MIGRATIONS_TABLE} (name) VALUES (?)`

export async function tableExists(knex: Knex, table: string): Promise<boolean> {
  const [rows] = (await knex.raw(
    'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    [table],
  )) as [Array<{ n: number }>]
  return Number(rows[0].n) > 0
}

/**
 * Umzug storage in family_sync_migrations. The table is created with the first
 * record, not before: a preflight that fails leaves no table of ours behind.
 */
export class KnexStorage implements UmzugStorage {
  constructor(private readonly knex: Knex) {}

  async logMigration({ name }: { name: string }): Promise<void> {
    await this.knex.raw(MIGRATIONS_TABLE_DDL)
    // INSERT IGNORE: a rerun after a crash between a migration and its record
    // must not fail on the record.
    await this.knex.raw(RECORD_MIGRATION, [name])
  }

  async unlogMigration({ name }: { name: string }): Promise<void> {
    if (await tableExists(this.knex, MIGRATIONS_TABLE)) {
      await this.knex.raw(`DELETE FROM ${MIGRATIONS_TABLE} WHERE name = ?`, [name])
    }
  }

  async executed(): Promise<string[]> {
    if (!(await tableExists(this.knex, MIGRATIONS_TABLE))) return []
    const [rows] = (await this.knex.raw(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY name`)) as [Array<{ name: string }>]
    return rows.map((row) => row.name)
  }
}
