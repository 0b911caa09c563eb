import type { UmzugStorage } from 'umzug'
import type { Session } from '../connection/session.js'
import { tableExists } from '../db/introspect.js'
import { executedMigrations, prepareMigrationRecords, RECORD_MIGRATION } from '../db/recorded.js'
import { MIGRATIONS_TABLE } from '../db/tables.js'
import { packageVersion } from '../paths.js'

/**
 * Umzug's storage in family_sync_migrations, on the migrating session. The
 * table is created with the first record, not before: a preflight that fails
 * leaves no table of ours behind. Each record carries the version that ran it.
 */
export class SessionStorage implements UmzugStorage {
  private prepared = false

  constructor(private readonly session: Session) {}

  async logMigration({ name }: { name: string }): Promise<void> {
    if (!this.prepared) await prepareMigrationRecords(this.session)
    this.prepared = true
    await this.session.run(RECORD_MIGRATION, [name, packageVersion()])
  }

  async unlogMigration({ name }: { name: string }): Promise<void> {
    if (await tableExists(this.session, MIGRATIONS_TABLE)) await this.session.run(`DELETE FROM ${MIGRATIONS_TABLE} WHERE name = ?`, [name])
  }

  executed(): Promise<string[]> {
    return executedMigrations(this.session)
  }
}
