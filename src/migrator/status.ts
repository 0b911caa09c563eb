import { MIGRATION_NAMES } from '../../migrations/index.js'
import type { Session } from '../connection/session.js'
import { shippedCatalogue } from '../db/catalogue.js'
import { migrationRecords } from '../db/recorded.js'
import type { MigrationStatus, MigratorOptions } from './migrator.js'
import { plan } from './plan.js'

/**
 * `migrate status`, as Flyway's `info` shows it: every migration with its
 * state, when it ran and which version ran it (and any recorded migration
 * this version does not know); every stored object with its state, the
 * checksum of the server's copy, and when and by which version it was
 * installed; and what `migrate up` would do now.
 */
export async function statusOnSession(session: Session, migratorOptions: MigratorOptions = {}): Promise<MigrationStatus> {
  const catalogue = migratorOptions.catalogue ?? shippedCatalogue()
  const p = await plan(session, catalogue, {})
  const records = new Map((await migrationRecords(session)).map((record) => [record.name, record]))
  const unknown = [...records.keys()].filter((name) => !MIGRATION_NAMES.includes(name)).sort()
  const migrations = [...MIGRATION_NAMES, ...unknown].map((name) => {
    const record = records.get(name)
    return {
      name,
      state: unknown.includes(name) ? ('unknown' as const) : record ? ('executed' as const) : ('pending' as const),
      executedAt: record?.executedAt ?? null,
      version: record?.version ?? null,
    }
  })
  const planned = new Map(p.objects.map((o) => [o.name, o]))
  return {
    executed: migrations.filter((m) => m.state === 'executed').map((m) => m.name),
    pending: [...p.migrations, ...p.objects.map((o) => o.name)],
    unknown,
    migrations,
    objects: p.reports.map((report) => ({
      name: report.name,
      kind: report.kind,
      state: report.state,
      pending: planned.has(report.name),
      reason: planned.get(report.name)?.reason ?? report.reason,
      checksum: report.checksum?.slice(0, 8) ?? null,
      installedAt: report.installed?.installedAt ?? null,
      version: report.installed?.version ?? null,
      definer: report.definer,
    })),
    skew: p.skew,
  }
}
