import { MIGRATION_NAMES } from '../../migrations/index.js'
import type { Session } from '../connection/session.js'
import { DRAIN_STALE_SECONDS } from '../defaults.js'
import { shippedCatalogue, type Catalogue, type StoredObject } from '../db/catalogue.js'
import { lastDrainAgeSeconds } from '../db/drain-runs.js'
import { foreignTriggers } from '../db/foreign-triggers.js'
import { readInstalled, readServerInfo, type ServerInfo } from '../db/introspect.js'
import { assessObjects } from '../db/object-state.js'
import { readPrivileges } from '../db/privileges.js'
import { executedMigrations } from '../db/recorded.js'
import { FamilySyncError } from '../errors.js'
import type { MigrationStatus, MigratorOptions, PendingObject, UpOptions } from './migrator.js'
import { eventWarnings, runPreflight } from './preflight.js'

export interface PlannedObject extends PendingObject {
  object: StoredObject
  enableOnly: boolean
  keepDefiner: string | undefined
}

export interface Plan {
  server: ServerInfo
  migrations: string[]
  objects: PlannedObject[]
  drop: string[]
  problems: string[]
  warnings: string[]
  preflightNotes: string[]
  canCreateEvent: boolean
  installed: Awaited<ReturnType<typeof readInstalled>>
  empty: boolean
}


export function knownMigration(name: string): string {
  if (!MIGRATION_NAMES.includes(name)) throw new FamilySyncError(`unknown migration '${name}': choose one of ${MIGRATION_NAMES.join(', ')}`)
  return name
}

/**
 * What `migrate up` has to do, decided from the server as it is now (under
 * the lock, when it will be acted on): versioned migrations not yet run,
 * stored objects that are missing, differ from triggers/, are disabled on a
 * writable server or belong to a dropped account, and foreign triggers.
 */
export async function plan(session: Session, catalogue: Catalogue, options: UpOptions): Promise<Plan> {
  const server = await readServerInfo(session)
  const executed = new Set(await executedMigrations(session))
  const wanted = options.to ? MIGRATION_NAMES.slice(0, MIGRATION_NAMES.indexOf(knownMigration(options.to)) + 1) : MIGRATION_NAMES
  const pending = wanted.filter((name) => !executed.has(name))
  const installed = await readInstalled(session, catalogue.objects.map((o) => o.name))
  const drainAge = server.galera ? await lastDrainAgeSeconds(session) : null
  const everything = { triggers: true, events: true, routines: true }
  const reports = await assessObjects(session, { server, catalogue, replica: false, drainFresh: drainAge !== null && drainAge <= DRAIN_STALE_SECONDS, visible: everything }, installed)
  const stale = reports.filter((report) => {
    const owner = catalogue.object(report.name).migration
    return executed.has(owner) && wanted.includes(owner) && report.state !== 'ok'
  })
  const foreign = foreignTriggers(installed.triggers)
  const drop = options.dropForeignTriggers ?? []
  // Privileges are read only when there is something to do: a no-op run is the common deploy.
  const busy = pending.length > 0 || stale.length > 0 || drop.length > 0 || foreign.some((t) => t.writesUsers)
  const privileges = busy ? await readPrivileges(session, server.currentUser) : new Set<string>()
  const event = eventWarnings(server, privileges)
  const objects: PlannedObject[] = []
  for (const report of stale) {
    const object = catalogue.object(report.name)
    if (object.kind === 'event' && !event.canCreate) continue
    objects.push({
      name: report.name,
      kind: report.kind,
      reason: report.reason ?? report.state,
      object,
      enableOnly: report.state === 'disabled',
      keepDefiner: report.definer && report.definerExists && report.definer !== server.currentUser ? report.definer : undefined,
    })
  }
  const empty = pending.length === 0 && objects.length === 0 && drop.length === 0 && !foreign.some((t) => t.writesUsers)
  const result: Plan = { server, migrations: pending, objects, drop, problems: [], warnings: [], preflightNotes: [], canCreateEvent: event.canCreate, installed, empty }
  if (empty) return result
  const preflight = await runPreflight(session, { server, privileges, foreign, dropForeign: drop })
  result.problems = preflight.problems
  const eventPlanned = pending.includes('0005_install_drain_event') || objects.some((o) => o.kind === 'event') || (!event.canCreate && executed.has('0005_install_drain_event'))
  result.warnings = [...preflight.warnings, ...(eventPlanned ? event.warnings : [])]
  result.preflightNotes = result.warnings.map((w) => `warning: ${w}`)
  return result
}

export function pendingOf(planned: PlannedObject): PendingObject {
  return { name: planned.name, kind: planned.kind, reason: planned.reason }
}

export function preflightFailure(problems: string[]): FamilySyncError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
  return new FamilySyncError(`preflight found ${count}, nothing was changed: ${problems.join('; ')}`)
}

/** `migrate status`: what ran, and what `migrate up` would do now. */
export async function statusOnSession(session: Session, migratorOptions: MigratorOptions = {}): Promise<MigrationStatus> {
  const catalogue = migratorOptions.catalogue ?? shippedCatalogue()
  const p = await plan(session, catalogue, {})
  const executed = MIGRATION_NAMES.filter((name) => !p.migrations.includes(name))
  return { executed, pending: [...p.migrations, ...p.objects.map((o) => o.name)], objects: p.objects.map(pendingOf) }
}

