import { MIGRATION_NAMES } from '../../migrations/index.js'
import type { Session } from '../connection/session.js'
import { DRAIN_STALE_SECONDS } from '../defaults.js'
import type { Catalogue, StoredObject } from '../db/catalogue.js'
import { lastDrainAgeSeconds } from '../db/drain-runs.js'
import { foreignTriggers } from '../db/foreign-triggers.js'
import { tableFindings } from '../db/table-integrity.js'
import { readInstalled, readServerInfo, type ServerInfo } from '../db/introspect.js'
import { assessObjects, definersExist, type ObjectReport } from '../db/object-state.js'
import { maySetDefiner, readPrivileges } from '../db/privileges.js'
import { executedMigrations, migrationRecords } from '../db/recorded.js'
import { FamilySyncError } from '../errors.js'
import { packageVersion } from '../paths.js'
import { isNewer, shownVersion } from '../version.js'
import type { PendingObject, UpOptions } from './migrator.js'
import { eventWarnings, runPreflight } from './preflight.js'

export interface PlannedObject extends PendingObject {
  object: StoredObject
  enableOnly: boolean
  /** A trigger of ours on another table (a table swap took it along): dropped there, created on users. */
  moved: boolean
  /** Whom to install it for; undefined: the installing account. */
  definer: string | undefined
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
  /** Whom every object belongs to once this run is done. */
  definer: string
  /** What a newer version of family-sync recorded here: migrate up must change nothing. */
  skew: string[]
  /** Each object as assessed. */
  reports: ObjectReport[]
  /** Triggers of another account on family-sync's tables: dropped. */
  intruders: string[]
  /** The queue's ids are nearly used up: its entries are queued again with low ids. */
  renumberQueue: boolean
  empty: boolean
}

export function knownMigration(name: string): string {
  if (!MIGRATION_NAMES.includes(name)) throw new FamilySyncError(`unknown migration '${name}': choose one of ${MIGRATION_NAMES.join(', ')}`)
  return name
}

/** `user@host`, from the forms people write it in: user@host, 'user'@'host', `user`@`host`. */
export function parseAccount(text: string): string {
  const m = /^\s*(['"`]?)([^'"`@]+)\1@(['"`]?)([^'"`]*)\3\s*$/.exec(text)
  if (!m) throw new FamilySyncError(`--definer ${text}: expected an account as user@host, e.g. family_sync_definer@localhost`)
  return `${m[2]}@${m[4]}`
}

/**
 * Records and objects this version must not touch, because a newer version
 * of family-sync wrote them: a rolling deploy or a rollback runs old and new
 * side by side, and the older one would undo the newer one's work. Also
 * migrations recorded that this version does not know.
 */
export async function versionSkew(session: Session, reports?: ObjectReport[]): Promise<string[]> {
  const found: string[] = []
  for (const record of await migrationRecords(session)) {
    if (!MIGRATION_NAMES.includes(record.name)) {
      found.push(`migration ${record.name}, recorded by family-sync ${shownVersion(record.version)}, is unknown to this version (${packageVersion()})`)
    } else if (isNewer(record.version)) {
      found.push(`migration ${record.name} was run by family-sync ${record.version}, newer than this version (${packageVersion()})`)
    }
  }
  for (const report of reports ?? []) {
    if (report.state === 'newer') found.push(`${report.kind} ${report.name} was installed by family-sync ${report.installed?.version}, newer than this version (${packageVersion()})`)
  }
  return found
}

export function skewFailure(skew: string[], command: string): FamilySyncError {
  return new FamilySyncError(
    `${command} stopped before changing anything: ${skew.join('; ')}. A newer family-sync manages this database: run ${command} with that version or later`,
  )
}

/**
 * Whom the objects should belong to: the account asked for with --definer;
 * else the one migrate up recorded installing them for, or that they all
 * share, if it still exists; else the account running migrate up. Never
 * simply an object's present definer: a routine replaced by another account
 * belongs to that account.
 */
async function targetDefiner(session: Session, server: ServerInfo, reports: ObjectReport[], requested: string | undefined): Promise<{ definer: string; problems: string[] }> {
  if (requested) {
    const definer = parseAccount(requested)
    const exists = (await definersExist(session, [definer], server.currentUser)).get(definer)
    return { definer, problems: exists === false ? [`--definer ${definer}: there is no such account; create it first (see the README's "A definer account of its own")`] : [] }
  }
  const consensus = async (definers: Array<string | null>): Promise<string | undefined> => {
    const distinct = [...new Set(definers.filter((d): d is string => !!d))]
    if (distinct.length !== 1) return undefined
    return (await definersExist(session, distinct, server.currentUser)).get(distinct[0]) === false ? undefined : distinct[0]
  }
  const recorded = await consensus(reports.map((r) => r.installed?.definer ?? null))
  const present = reports.every((r) => !r.installed?.definer) ? await consensus(reports.map((r) => r.definer)) : undefined
  return { definer: recorded ?? present ?? server.currentUser, problems: [] }
}

/**
 * What `migrate up` has to do, decided from the server as it is now (under
 * the lock, when it will be acted on): versioned migrations not yet run,
 * stored objects that are missing, differ from triggers/, are disabled on a
 * writable server, belong to another account than the one they were
 * installed for, and foreign triggers.
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
  const skew = await versionSkew(session, reports)
  const owner = await targetDefiner(session, server, reports, options.definer)
  const staleFor = (definer: string) =>
    skew.length > 0
      ? []
      : reports.filter((report) => {
          const from = catalogue.object(report.name).migration
          if (!executed.has(from) || !wanted.includes(from)) return false
          return report.state !== 'ok' || report.definer !== definer
        })
  let stale = staleFor(owner.definer)
  const foreign = foreignTriggers(installed.triggers)
  const drop = options.dropForeignTriggers ?? []
  // What another account did to family-sync's own tables that migrate up can take back: its triggers
  // there are dropped (family-sync has none there), queue ids near the end are moved down.
  const tables = executed.has('0002_create_sync_tables') ? await tableFindings(session, server.capabilities, installed.triggers) : []
  const intruders = tables.flatMap((f) => (f.repair?.kind === 'drop-trigger' ? [f.repair.trigger] : []))
  const renumberQueue = tables.some((f) => f.repair?.kind === 'renumber-queue')
  // Privileges are read only when there is something to do: a no-op run is the common deploy.
  const busy = pending.length > 0 || stale.length > 0 || drop.length > 0 || intruders.length > 0 || renumberQueue || foreign.some((t) => t.writesUsers)
  const privileges = busy ? await readPrivileges(session, server.currentUser) : new Set<string>()
  const ownerWarnings: string[] = []
  if (busy && !options.definer && owner.definer !== server.currentUser && !maySetDefiner(server, privileges)) {
    // The event calls the drain only when both have one owner: all of them move to this account, or none.
    ownerWarnings.push(
      `the objects were installed for ${owner.definer}, and ${server.currentUser} may not create objects for another account ` +
        `(${server.capabilities.setDefinerGrant}): every object is reinstalled for ${server.currentUser}`,
    )
    owner.definer = server.currentUser
    stale = staleFor(owner.definer)
  }
  for (const report of stale) {
    if (report.state === 'ok') report.reason = `belongs to ${report.definer}; every object is installed for ${owner.definer}`
  }
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
      enableOnly: report.state === 'disabled' && report.definer === owner.definer,
      moved: report.state === 'elsewhere',
      definer: owner.definer === server.currentUser ? undefined : owner.definer,
    })
  }
  const empty =
    pending.length === 0 && objects.length === 0 && drop.length === 0 && intruders.length === 0 && !renumberQueue && !foreign.some((t) => t.writesUsers) && owner.problems.length === 0
  const result: Plan = {
    server, migrations: pending, objects, drop, problems: [], warnings: [], preflightNotes: [], canCreateEvent: event.canCreate,
    installed, definer: owner.definer, skew, reports, intruders, renumberQueue, empty,
  }
  if (empty || skew.length > 0) return result
  const preflight = await runPreflight(session, { server, privileges, foreign, dropForeign: drop, definer: owner.definer, allowMissingIndex: options.allowMissingIndex ?? false })
  result.problems = [...owner.problems, ...preflight.problems]
  const eventPlanned = pending.includes('0005_install_drain_event') || objects.some((o) => o.kind === 'event') || (!event.canCreate && executed.has('0005_install_drain_event'))
  result.warnings = [...ownerWarnings, ...preflight.warnings, ...(eventPlanned ? event.warnings : [])]
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
