import type { UmzugStorage } from 'umzug'
import type { Session } from '../connection/session.js'
import { tableExists } from '../db/introspect.js'
import { executedMigrations, RECORD_MIGRATION } from '../db/recorded.js'
import { MIGRATIONS_DDL, MIGRATIONS_TABLE } from '../db/tables.js'

/**
 * Umzug's storage in family_sync_migrations, on the migrating session. The
 * table is created with the first record, not before: a preflight that fails
 * leaves no table of ours behind.
 */
export class SessionStorage implements UmzugStorage {
  constructor(private readonly session: Session) {}

  async logMigration({ name }: { name: string }): Promise<void> {
    await this.session.run(MIGRATIONS_DDL)
    await this.session.run(RECORD_MIGRATION, [name])
  }

  async unlogMigration({ name }: { name: string }): Promise<void> {
    if (await tableExists(this.session, MIGRATIONS_TABLE)) await this.session.run(`DELETE FROM ${MIGRATIONS_TABLE} WHERE name = ?`, [name])
  }

  executed(): Promise<string[]> {
    return executedMigrations(this.session)
  }
}
