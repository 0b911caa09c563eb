import { MIGRATION_NAMES, migrations } from '../../migrations/index.js'
import type { Session } from '../connection/session.js'
import { BATCH_MS, DRAIN_STALE_SECONDS, LOCK_TIMEOUT_SECONDS, LOCK_WAIT_SECONDS } from '../defaults.js'
import { shippedCatalogue, type Catalogue, type StoredObject, type StoredObjectKind } from '../db/catalogue.js'
import { lastDrainAgeSeconds } from '../db/drain-runs.js'
import { foreignTriggers } from '../db/foreign-triggers.js'
import { readInstalled, readServerInfo, tableExists, type ServerInfo } from '../db/introspect.js'
import { refuseReadOnly } from '../db/read-only.js'
import { assessObjects } from '../db/object-state.js'
import { readPrivileges } from '../db/privileges.js'
import { QUEUE_TABLE } from '../db/tables.js'
import { drainOnSession } from '../drain/drain.js'
import { FamilySyncError } from '../errors.js'
import { silentProgress, type Progress } from '../progress.js'
import { quietReporter, type Reporter } from '../reporter.js'
import { migrationLock, type MigrationLock } from './lock.js'
import { eventWarnings, runPreflight } from './preflight.js'
import type { Strategy } from './replace.js'
import { dropForeignTriggers, installObject, recordInScript, runSteps, type RunContext, type RunMode } from './runner.js'
import { note, scriptHeader } from './script.js'
import { executedMigrations } from '../db/recorded.js'
import { SessionStorage } from './storage.js'

export interface MigratorOptions {
  /** How long to wait for another migrate, and for the application's locks in all, in seconds (default 120). */
  lockTimeoutSeconds?: number
  /** The session lock_wait_timeout of each DDL attempt, in seconds (default 2). */
  lockWaitSeconds?: number
  /** Target duration of one backfill batch, in ms (default 100). */
  batchMs?: number
  reporter?: Reporter
  progress?: Progress
  /** @internal Another triggers/ directory (tests ship "another version" with it). */
  catalogue?: Catalogue
  /** @internal Force a replacement form (tests run MySQL's on MariaDB). */
  strategy?: Strategy
}

export interface UpOptions {
  /** Stop after this migration. */
  to?: string
  /** Check and print what would run, as a mysql-client script; change nothing. */
  dryRun?: boolean
  /** Triggers on users, not family-sync's, to drop in the trigger replacement step. */
  dropForeignTriggers?: string[]
  /** Run on a read-only server or a replica anyway. */
  force?: boolean
}

export interface DownOptions {
  /** Revert down to and including this migration; 0 reverts all. */
  to?: string | 0
  /** Revert this many migrations (default 1). */
  step?: number
  force?: boolean
}

/** A stored object `migrate up` will (re)install, and why. */
export interface PendingObject {
  name: string
  kind: StoredObjectKind
  reason: string
}

export interface MigrationStatus {
  executed: string[]
  /** Pending migrations, then pending stored objects, by name. */
  pending: string[]
  objects: PendingObject[]
}

export interface UpResult {
  migrations: string[]
  objects: PendingObject[]
  droppedTriggers: string[]
  /** The dry run's script. */
  script?: string
}

export interface DownResult {
  migrations: string[]
}

interface PlannedObject extends PendingObject {
  object: StoredObject
  enableOnly: boolean
  keepDefiner: string | undefined
}

interface Plan {
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

function knownMigration(name: string): string {
  if (!MIGRATION_NAMES.includes(name)) throw new FamilySyncError(`unknown migration '${name}': choose one of ${MIGRATION_NAMES.join(', ')}`)
  return name
}

async function withLockWait<T>(session: Session, seconds: number, work: () => Promise<T>): Promise<T> {
  const previous = await session.scalar<number>('SELECT @@SESSION.lock_wait_timeout')
  await session.run('SET SESSION lock_wait_timeout = ?', [seconds])
  try {
    return await work()
  } finally {
    await session.run('SET SESSION lock_wait_timeout = ?', [previous ?? seconds]).catch(() => {})
  }
}

/**
 * What `migrate up` has to do, decided from the server as it is now (under
 * the lock, when it will be acted on): versioned migrations not yet run,
 * stored objects that are missing, differ from triggers/, are disabled on a
 * writable server or belong to a dropped account, and foreign triggers.
 */
async function plan(session: Session, catalogue: Catalogue, options: UpOptions): Promise<Plan> {
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

function context(mode: RunMode, session: Session | undefined, p: Plan | undefined, catalogue: Catalogue, options: MigratorOptions, lock?: MigrationLock): RunContext {
  return {
    mode,
    session,
    server: p?.server,
    catalogue,
    reporter: options.reporter ?? quietReporter,
    progress: options.progress ?? silentProgress,
    lock,
    lockTimeoutSeconds: options.lockTimeoutSeconds ?? LOCK_TIMEOUT_SECONDS,
    batchMs: options.batchMs ?? BATCH_MS,
    installed: p?.installed,
    canCreateEvent: p?.canCreateEvent ?? true,
    script: [],
    foreignToDrop: [...(p?.drop ?? [])],
    strategy: options.strategy,
    preflightNotes: p?.preflightNotes ?? [],
  }
}

/** The script of a plan: the migrations' steps, then the stored objects to bring up to date. */
async function writeScript(ctx: RunContext, names: string[], objects: PlannedObject[], what: string, lockWait: number): Promise<string> {
  ctx.script.push(...scriptHeader(what, lockWait))
  for (const migration of migrations.filter((m) => names.includes(m.name))) {
    ctx.script.push('', note(`migration ${migration.name}`))
    await runSteps(ctx, migration.up)
    recordInScript(ctx, migration)
  }
  for (const planned of objects) {
    ctx.script.push('', note(`${planned.kind} ${planned.name}: ${planned.reason}`))
    await installObject(ctx, planned.object, { keepDefiner: planned.keepDefiner, enableOnly: planned.enableOnly })
  }
  if (ctx.foreignToDrop.length > 0) {
    ctx.script.push('', note('triggers on users that are not family-sync\'s, dropped on request'))
    await dropForeignTriggers(ctx)
  }
  return ctx.script.join('\n') + '\n'
}

/** `migrate up`, on one session: the migration lock and the work share it. */
export async function upOnSession(session: Session, options: UpOptions = {}, migratorOptions: MigratorOptions = {}): Promise<UpResult> {
  const catalogue = migratorOptions.catalogue ?? shippedCatalogue()
  const reporter = migratorOptions.reporter ?? quietReporter
  const lockWait = migratorOptions.lockWaitSeconds ?? LOCK_WAIT_SECONDS
  if (options.dryRun) {
    const p = await plan(session, catalogue, options)
    if (p.problems.length > 0) throw preflightFailure(p.problems)
    for (const warning of p.warnings) reporter.warn(warning)
    const ctx = context('dry-run', session, p, catalogue, migratorOptions)
    if (p.empty) return { migrations: [], objects: [], droppedTriggers: [], script: [...scriptHeader('nothing to migrate: every migration has run and every stored object matches triggers/', lockWait)].join('\n') + '\n' }
    const script = await writeScript(ctx, p.migrations, p.objects, 'what `family-sync migrate up` would run now', lockWait)
    return { migrations: p.migrations, objects: p.objects.map(pendingOf), droppedTriggers: p.drop, script }
  }
  const server = await readServerInfo(session)
  await refuseReadOnly(session, server, options.force, 'migrate up')
  // On Galera taking the lock creates its table: a run that the preflight
  // refuses must change nothing, so it is refused before the lock as well.
  if (server.galera) {
    const first = await plan(session, catalogue, options)
    if (first.problems.length > 0) throw preflightFailure(first.problems)
  }
  return withLockWait(session, lockWait, async () => {
    const lock = migrationLock(session, server, migratorOptions.lockTimeoutSeconds ?? LOCK_TIMEOUT_SECONDS)
    await lock.acquire()
    try {
      const p = await plan(session, catalogue, options)
      if (p.problems.length > 0) throw preflightFailure(p.problems)
      const result: UpResult = { migrations: [], objects: p.objects.map(pendingOf), droppedTriggers: [...p.drop] }
      if (p.empty) return result
      for (const warning of p.warnings) reporter.warn(warning)
      const ctx = context('apply', session, p, catalogue, migratorOptions, lock)
      if (p.migrations.length > 0) {
        const { Umzug } = await import('umzug')
        const umzug = new Umzug({
          migrations: migrations.map((m) => ({ name: m.name, up: () => runSteps(ctx, m.up), down: () => runSteps(ctx, m.down) })),
          context: {},
          storage: new SessionStorage(session),
          logger: undefined,
        })
        let startedAt = Date.now()
        umzug.on('migrating', () => void (startedAt = Date.now()))
        umzug.on('migrated', ({ name }) => reporter.info(`migrated ${name} (${Date.now() - startedAt} ms)`))
        result.migrations = (await umzug.up({ migrations: p.migrations })).map((m) => m.name)
      }
      for (const planned of p.objects) {
        await lock.confirm()
        await installObject(ctx, planned.object, { keepDefiner: planned.keepDefiner, enableOnly: planned.enableOnly })
        reporter.info(`${planned.enableOnly ? 'enabled' : 'installed'} ${planned.kind} ${planned.name} (${planned.reason})`)
      }
      if (ctx.foreignToDrop.length > 0) await dropForeignTriggers(ctx)
      for (const name of p.drop) reporter.info(`dropped trigger ${name}`)
      return result
    } finally {
      await lock.release()
    }
  })
}

function pendingOf(planned: PlannedObject): PendingObject {
  return { name: planned.name, kind: planned.kind, reason: planned.reason }
}

function preflightFailure(problems: string[]): FamilySyncError {
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

/** Which migrations `down` reverts, newest first, in Umzug's terms. */
function toRevert(executed: string[], options: DownOptions): string[] {
  const newestFirst = MIGRATION_NAMES.filter((name) => executed.includes(name)).reverse()
  if (options.to === 0) return newestFirst
  if (options.to !== undefined) {
    knownMigration(options.to)
    const index = newestFirst.indexOf(options.to)
    return index === -1 ? [] : newestFirst.slice(0, index + 1)
  }
  return newestFirst.slice(0, options.step ?? 1)
}

/**
 * Before the drain or the queue goes: queued work that cannot be applied
 * would be lost, so down stops here, having removed nothing.
 */
async function guardQueue(session: Session): Promise<void> {
  if (!(await tableExists(session, QUEUE_TABLE))) return
  const procedure = Number(await session.scalar("SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'family_sync_drain'"))
  if (procedure > 0) await drainOnSession(session)
  const stuck = await session.query<{ id: string; parent_id: string; attempts: number; last_error: string | null; parked: number }>(
    `SELECT CAST(id AS CHAR) AS id, CAST(parent_id AS CHAR) AS parent_id, attempts, last_error, parked_at IS NOT NULL AS parked
     FROM ${QUEUE_TABLE} WHERE attempts > 0 OR parked_at IS NOT NULL ORDER BY id LIMIT 3`,
  )
  if (stuck.length === 0) return
  const total = Number(await session.scalar(`SELECT COUNT(*) FROM ${QUEUE_TABLE} WHERE attempts > 0 OR parked_at IS NOT NULL`))
  const first = stuck[0]
  throw new FamilySyncError(
    `migrate down stopped before removing anything: ${total} queue ${total === 1 ? 'entry fails' : 'entries fail'} to apply ` +
      `(entry ${first.id}, parent ${first.parent_id}, ${first.parked ? 'parked' : `${first.attempts} attempts`}: ${first.last_error ?? 'unknown error'}); ` +
      'fix the cause and run `family-sync drain --retry-parked`, or delete those rows from family_sync_queue to give them up, then run migrate down again',
  )
}

/** `migrate down`, on one session. The audit table and users are kept. */
export async function downOnSession(session: Session, options: DownOptions = {}, migratorOptions: MigratorOptions = {}): Promise<DownResult> {
  const catalogue = migratorOptions.catalogue ?? shippedCatalogue()
  const server = await readServerInfo(session)
  await refuseReadOnly(session, server, options.force, 'migrate down')
  return withLockWait(session, migratorOptions.lockWaitSeconds ?? LOCK_WAIT_SECONDS, async () => {
    const lock = migrationLock(session, server, migratorOptions.lockTimeoutSeconds ?? LOCK_TIMEOUT_SECONDS)
    await lock.acquire()
    try {
      const names = toRevert(await executedMigrations(session), options)
      if (names.length === 0) return { migrations: [] }
      if (names.includes('0004_install_drain_procedure') || names.includes('0002_create_sync_tables')) await guardQueue(session)
      const installed = await readInstalled(session, catalogue.objects.map((o) => o.name))
      const ctx = context('apply', session, undefined, catalogue, migratorOptions, lock)
      ctx.server = server
      ctx.installed = installed
      const { Umzug } = await import('umzug')
      const umzug = new Umzug({
        migrations: migrations.map((m) => ({ name: m.name, up: () => runSteps(ctx, m.up), down: () => runSteps(ctx, m.down) })),
        context: {},
        storage: new SessionStorage(session),
        logger: undefined,
      })
      umzug.on('reverted', ({ name }) => ctx.reporter.info(`reverted ${name}`))
      return { migrations: (await umzug.down({ migrations: names })).map((m) => m.name) }
    } finally {
      await lock.release()
    }
  })
}

/** `family-sync sql`: every statement `migrate up` runs on an empty database, with no server at all. */
export async function installScript(migratorOptions: MigratorOptions = {}): Promise<string> {
  const catalogue = migratorOptions.catalogue ?? shippedCatalogue()
  const ctx = context('script', undefined, undefined, catalogue, migratorOptions)
  return writeScript(ctx, [...MIGRATION_NAMES], [], 'the statements of `family-sync migrate up` on an empty database, for review or for the mysql client', migratorOptions.lockWaitSeconds ?? LOCK_WAIT_SECONDS)
}
