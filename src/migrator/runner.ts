import type { Session } from '../connection/session.js'
import type { Catalogue, StoredObject } from '../db/catalogue.js'
import { dropForeignStatement } from '../db/foreign-triggers.js'
import { tableExists, type Installed, type ServerInfo } from '../db/introspect.js'
import { addColumnsStatement, missingColumns, type ColumnList } from '../db/columns.js'
import { MIGRATIONS_DDL, OBJECT_COLUMNS, OBJECTS_DDL, OBJECTS_TABLE, QUEUE_TABLE } from '../db/tables.js'
import { drainOnSession } from '../drain/drain.js'
import { FamilySyncError } from '../errors.js'
import type { Progress } from '../progress.js'
import { ALL_SETTLED, auditStatement, updateStatement } from '../repair/batch.js'
import { repairOnSession } from '../repair/engine.js'
import type { Reporter } from '../reporter.js'
import type { MigrationLock } from './lock.js'
import { runWaitingForLocks } from './lock-wait.js'
import { currentTriggerDefinition, dropStatement, enableStatement, installPlan, strategyFor, type Strategy } from './replace.js'
import { note, render, sqlLiteral } from './script.js'
import { packageVersion } from '../paths.js'
import { RECORD_MIGRATION } from '../db/recorded.js'
import type { Migration, Step } from './steps.js'

/**
 * apply: change the server. dry-run: read the server, write the script of
 * what apply would do. script: no server at all; write the script for an
 * empty database (`family-sync sql`).
 */
export type RunMode = 'apply' | 'dry-run' | 'script'

export interface RunContext {
  mode: RunMode
  session: Session | undefined
  server: ServerInfo | undefined
  catalogue: Catalogue
  reporter: Reporter
  progress: Progress
  lock: MigrationLock | undefined
  lockTimeoutSeconds: number
  batchMs: number
  /** What the server holds now; undefined for an empty database. */
  installed: Installed | undefined
  canCreateEvent: boolean
  /** Lines of the script being written (dry-run, script). */
  script: string[]
  /** Foreign triggers on users to drop in the next trigger replacement. */
  foreignToDrop: string[]
  /** Tests force MySQL's LOCK TABLES form on MariaDB with this. */
  strategy?: Strategy
  /** The preflight's findings, for dry-run to print. */
  preflightNotes: string[]
  /** Whom objects are installed for; undefined: the account running migrate up. */
  definer?: string
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`this step needs ${what}`)
  return value
}

/** A statement on the server (waiting politely for locks), or a line of the script. */
async function exec(ctx: RunContext, sql: string): Promise<void> {
  if (ctx.mode !== 'apply') {
    ctx.script.push(render(sql))
    return
  }
  const session = need(ctx.session, 'a connection')
  await runWaitingForLocks(session, sql, { lockTimeoutSeconds: ctx.lockTimeoutSeconds, reporter: ctx.reporter, confirm: () => ctx.lock?.confirm() ?? Promise.resolve() })
}

function existing(ctx: RunContext, object: StoredObject): { definer: string; status?: string } | undefined {
  const installed = ctx.installed
  if (!installed) return undefined
  if (object.kind === 'trigger') return installed.triggers.find((t) => t.name === object.name)
  if (object.kind === 'procedure') return installed.procedures.find((p) => p.name === object.name)
  return installed.events.find((e) => e.name === object.name)
}

/**
 * Records what was installed: its checksum, for whom, with which SQL
 * SECURITY, by which version. Applied, the owner is read back from the
 * server, so the record says what the server holds; in a script, the
 * statement reads it there when the DBA runs it.
 */
async function recordObject(ctx: RunContext, object: StoredObject, definer: string | undefined): Promise<void> {
  const owner = ctx.mode === 'apply' ? await installedOwner(need(ctx.session, 'a connection'), object) : null
  const definerSql = owner ? sqlLiteral(owner.definer) : definer ? sqlLiteral(definer) : 'CURRENT_USER()'
  const security = owner?.securityType ? sqlLiteral(owner.securityType) : object.kind === 'procedure' ? "'DEFINER'" : 'NULL'
  const record =
    `REPLACE INTO ${OBJECTS_TABLE} (name, kind, checksum, definer, security_type, version) VALUES ` +
    `(${sqlLiteral(object.name)}, ${sqlLiteral(object.kind)}, ${sqlLiteral(ctx.catalogue.checksum(object.name))}, ${definerSql}, ${security}, ${sqlLiteral(packageVersion())})`
  if (ctx.mode === 'apply') {
    const session = need(ctx.session, 'a connection')
    if (!(await tableExists(session, OBJECTS_TABLE))) await exec(ctx, OBJECTS_DDL)
    const missing = await missingColumns(session, OBJECTS_TABLE, OBJECT_COLUMNS)
    if (missing.length > 0) await exec(ctx, addColumnsStatement(OBJECTS_TABLE, missing))
  }
  await exec(ctx, record)
}

/** The definer and SQL SECURITY the server reports for an object just installed. */
async function installedOwner(session: Session, object: StoredObject): Promise<{ definer: string; securityType: string | null } | null> {
  const sql =
    object.kind === 'trigger'
      ? 'SELECT DEFINER AS definer, NULL AS securityType FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = ?'
      : object.kind === 'procedure'
        ? "SELECT DEFINER AS definer, SECURITY_TYPE AS securityType FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME = ?"
        : 'SELECT DEFINER AS definer, NULL AS securityType FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME = ?'
  const [row] = await session.query<{ definer: string; securityType: string | null }>(sql, [object.name])
  return row ?? null
}

export interface InstallOptions {
  /** The account to install it for (its DEFINER); the installing account when undefined. */
  definer?: string
  /** Only re-enable the event; its body is up to date. */
  enableOnly?: boolean
  /** The trigger sits on another table: drop it there first (it guards nothing on users), then create it. */
  moved?: boolean
}

/**
 * Puts a stored object of triggers/ in place, or replaces it, so that no
 * write to users ever finds a trigger missing: one atomic CREATE OR REPLACE
 * on MariaDB; on MySQL the DROP and CREATE under LOCK TABLES users WRITE,
 * and if the CREATE fails there, the old trigger is put back before the
 * table is unlocked. The lock is always released.
 */
export async function installObject(ctx: RunContext, object: StoredObject, options: InstallOptions = {}): Promise<void> {
  if (object.kind === 'event' && !ctx.canCreateEvent && ctx.mode !== 'script') {
    ctx.script.push(note(`${object.name}: skipped, this account lacks the EVENT privilege`))
    return
  }
  const there = existing(ctx, object)
  const drops = object.kind === 'trigger' ? ctx.foreignToDrop.splice(0) : []
  if (options.enableOnly && drops.length === 0) {
    await execKeepingDefiner(ctx, (definer) => [enableStatement(object, definer)], options.definer)
    await recordObject(ctx, object, options.definer)
    return
  }
  const strategy = options.moved ? 'drop-create' : there && ctx.strategy ? ctx.strategy : strategyFor(ctx.server, object.kind, there !== undefined)
  const statements = (definer: string | undefined) => installPlan(ctx.catalogue, object, strategy, definer, drops).statements
  if (strategy === 'lock-tables' && ctx.mode === 'apply') await replaceUnderLock(ctx, object, statements, options.definer)
  else await execKeepingDefiner(ctx, statements, options.definer)
  await recordObject(ctx, object, options.definer)
}

const ER_SPECIFIC_ACCESS_DENIED = 1227

/** Runs the statements with the old definer kept; an account that may not set definers gets the object as its own, with a warning. */
async function execKeepingDefiner(ctx: RunContext, statements: (definer: string | undefined) => string[], definer: string | undefined): Promise<void> {
  try {
    for (const sql of statements(definer)) await exec(ctx, sql)
  } catch (error) {
    if (!definer || (error as { errno?: number }).errno !== ER_SPECIFIC_ACCESS_DENIED) throw error
    ctx.reporter.warn(`this account may not create objects for ${definer} (${ctx.server?.capabilities.setDefinerGrant ?? 'SUPER or SET USER'}): its definer becomes ${ctx.server?.currentUser}`)
    for (const sql of statements(undefined)) await exec(ctx, sql)
  }
}

async function replaceUnderLock(ctx: RunContext, object: StoredObject, statements: (definer: string | undefined) => string[], definer: string | undefined): Promise<void> {
  const session = need(ctx.session, 'a connection')
  const previous = await currentTriggerDefinition(session, object.name)
  const [lock, ...rest] = statements(definer)
  const inside = rest.slice(0, -1)
  await exec(ctx, lock)
  try {
    try {
      for (const sql of inside) await session.run(sql)
    } catch (error) {
      if (!definer || (error as { errno?: number }).errno !== ER_SPECIFIC_ACCESS_DENIED) throw error
      ctx.reporter.warn(`this account may not create objects for ${definer}: the definer of ${object.name} becomes ${ctx.server?.currentUser}`)
      for (const sql of statements(undefined).slice(1, -1)) await session.run(sql)
    }
  } catch (error) {
    if (previous) await restoreTrigger(session, object.name, previous)
    throw error
  } finally {
    await session.run('UNLOCK TABLES').catch(() => {})
  }
}

async function restoreTrigger(session: Session, name: string, previous: { sql: string; sqlMode: string }): Promise<void> {
  const present = Number(await session.scalar('SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = ?', [name]).catch(() => 1))
  if (present > 0) return
  const mode = await session.scalar<string>('SELECT @@SESSION.sql_mode')
  try {
    await session.run('SET SESSION sql_mode = ?', [previous.sqlMode])
    await session.run(previous.sql)
  } catch (error) {
    throw new FamilySyncError(`replacing trigger ${name} failed, and putting the old one back failed too (${(error as Error).message}): users has no ${name} trigger; run migrate up again`, { cause: error })
  } finally {
    await session.run('SET SESSION sql_mode = ?', [mode ?? '']).catch(() => {})
  }
}

/** Foreign triggers asked to be dropped when no trigger of ours was replaced to carry them. */
export async function dropForeignTriggers(ctx: RunContext): Promise<void> {
  for (const name of ctx.foreignToDrop.splice(0)) await exec(ctx, dropForeignStatement(name))
}

async function dropObject(ctx: RunContext, object: StoredObject): Promise<void> {
  await exec(ctx, dropStatement(object))
  if (ctx.mode !== 'apply' || (await tableExists(need(ctx.session, 'a connection'), OBJECTS_TABLE))) {
    await exec(ctx, `DELETE FROM ${OBJECTS_TABLE} WHERE name = '${object.name}'`)
  }
}

async function backfill(ctx: RunContext): Promise<void> {
  if (ctx.mode === 'apply') {
    const session = need(ctx.session, 'a connection')
    const result = await repairOnSession(session, { reason: 'backfill', batchMs: ctx.batchMs, progress: ctx.progress, beforeBatch: () => ctx.lock?.confirm() ?? Promise.resolve() })
    ctx.reporter.info(`backfill repaired ${result.fixed} children in ${result.batches} batches (longest ${result.maxBatchMs} ms)${result.pending ? `; ${result.pending} more are queued for the drain` : ''}`)
    if (result.remaining > 0) ctx.reporter.warn(`${result.remaining} mismatches are left (rows the application held throughout): run family-sync repair`)
    return
  }
  if (ctx.mode === 'dry-run') {
    const { remaining, pending } = await repairOnSession(need(ctx.session, 'a connection'), { dryRun: true })
    ctx.script.push(note(`the backfill would repair ${remaining + pending} mismatched children`))
  }
  repairScript(ctx, 'backfill')
}

/** The set-based form of a repair, for a script: what family-sync does batch by batch, as one transaction. */
export function repairScript(ctx: RunContext, reason: 'backfill' | 'repair'): void {
  ctx.script.push(
    note(
      'family-sync runs these per batch of about 100 ms, on the settled mismatches of each batch of rows\n' +
        'it has locked (FOR UPDATE SKIP LOCKED), and repeats until none is left. As one transaction:',
    ),
    render('START TRANSACTION'),
    render(auditStatement(ALL_SETTLED).replace('?', sqlLiteral(reason))),
    render(updateStatement(ALL_SETTLED)),
    render('COMMIT'),
    note('The triggers queued each changed child; the drain settles the levels below.'),
    render('CALL family_sync_drain(1000000, 0, @family_sync_applied)'),
  )
}

async function addColumns(ctx: RunContext, table: string, columns: ColumnList): Promise<void> {
  // A table created by this run (or this script) has every column from the start.
  if (ctx.mode === 'script' || !(await tableExists(need(ctx.session, 'a connection'), table))) {
    if (ctx.mode !== 'apply') ctx.script.push(note(`${table} as created above already has every column`))
    return
  }
  const missing = await missingColumns(need(ctx.session, 'a connection'), table, columns)
  if (missing.length === 0) {
    if (ctx.mode === 'dry-run') ctx.script.push(note(`${table} already has every column`))
    return
  }
  await exec(ctx, addColumnsStatement(table, missing))
}

async function runStep(ctx: RunContext, step: Step): Promise<void> {
  if (ctx.mode === 'apply') await ctx.lock?.confirm()
  switch (step.kind) {
    case 'preflight':
      // Applied and dry runs check before their first step (see migrator.ts).
      ctx.script.push(note(ctx.mode === 'script' ? 'preflight: checks the server version, users/families columns, privileges and binary logging (reads only)' : ['preflight: ok', ...ctx.preflightNotes].join('\n')))
      return
    case 'ddl':
      return exec(ctx, step.sql)
    case 'columns':
      return addColumns(ctx, step.table, step.columns)
    case 'install':
      return installObject(ctx, ctx.catalogue.object(step.object), { definer: ctx.definer })
    case 'drop':
      return dropObject(ctx, ctx.catalogue.object(step.object))
    case 'backfill':
      return backfill(ctx)
    case 'drain': {
      if (ctx.mode !== 'apply') return exec(ctx, 'CALL family_sync_drain(1000000, 0, @family_sync_applied)')
      const session = need(ctx.session, 'a connection')
      const there = Number(await session.scalar("SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'family_sync_drain'"))
      if (there > 0) {
        const result = await drainOnSession(session)
        if (result.applied > 0) ctx.reporter.info(`drained ${result.applied} queued parents before removing the procedure`)
      }
      return
    }
    case 'settle-queue': {
      if (ctx.mode !== 'apply') return
      const session = need(ctx.session, 'a connection')
      if (!(await tableExists(session, QUEUE_TABLE)) || Number(await session.scalar(`SELECT COUNT(*) FROM ${QUEUE_TABLE}`)) === 0) return
      const result = await repairOnSession(session, { reason: 'down', batchMs: ctx.batchMs, progress: ctx.progress, beforeBatch: () => ctx.lock?.confirm() ?? Promise.resolve() })
      ctx.reporter.info(`applied the last queued work: ${result.fixed} children changed`)
      return
    }
  }
}

/** A migration's steps, up or down, in the context's mode. */
export async function runSteps(ctx: RunContext, steps: readonly Step[]): Promise<void> {
  for (const step of steps) await runStep(ctx, step)
}

/** What a script adds after a migration's steps so that a later `migrate up` sees it as done. */
export function recordInScript(ctx: RunContext, migration: Migration): void {
  const ddl = render(MIGRATIONS_DDL)
  if (!ctx.script.includes(ddl)) ctx.script.push(ddl)
  ctx.script.push(render(RECORD_MIGRATION.replace('?', sqlLiteral(migration.name)).replace('?', sqlLiteral(packageVersion()))))
}
