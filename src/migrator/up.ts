import { MIGRATION_NAMES, migrations } from '../../migrations/index.js'
import type { Session } from '../connection/session.js'
import { LOCK_TIMEOUT_SECONDS, LOCK_WAIT_SECONDS } from '../defaults.js'
import { shippedCatalogue } from '../db/catalogue.js'
import { readServerInfo } from '../db/introspect.js'
import { refuseReadOnly } from '../db/read-only.js'
import { quietReporter } from '../reporter.js'
import { migrationLock } from './lock.js'
import type { MigratorOptions, UpOptions, UpResult } from './migrator.js'
import { pendingOf, plan, preflightFailure, skewFailure, type Plan, type PlannedObject } from './plan.js'
import { context, umzugFor, withLockWait } from './run-context.js'
import { dropForeignTriggers, installObject, recordInScript, repairScript, runSteps, type RunContext } from './runner.js'
import { note, scriptHeader } from './script.js'
import { repairOnSession } from '../repair/engine.js'
import { renumberQueue } from '../db/table-integrity.js'
import { dropForeignStatement } from '../db/foreign-triggers.js'

/** A plan that must not be carried out: what a newer version recorded, or what the preflight found. */
function refuse(p: Plan): void {
  if (p.skew.length > 0) throw skewFailure(p.skew, 'migrate up')
  if (p.problems.length > 0) throw preflightFailure(p.problems)
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
    await installObject(ctx, planned.object, { definer: planned.definer, enableOnly: planned.enableOnly, moved: planned.moved })
  }
  if (objects.some((o) => o.moved)) {
    ctx.script.push('', note('the triggers were on another table meanwhile: repair what was written to users unguarded'))
    repairScript(ctx, 'repair')
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
    refuse(p)
    for (const warning of p.warnings) reporter.warn(warning)
    const ctx = context('dry-run', session, p, catalogue, migratorOptions)
    if (p.empty) return { migrations: [], objects: [], droppedTriggers: [], script: [...scriptHeader('nothing to migrate: every migration has run and every stored object matches triggers/', lockWait)].join('\n') + '\n' }
    const tables = [
      ...p.intruders.flatMap((name) => ['', note(`trigger ${name} is on a table of family-sync's, which has none there`), `${dropForeignStatement(name)};`]),
      ...(p.renumberQueue ? ['', note("the queue's ids are nearly used up: its entries near the end are queued again with low ids (DELETE, ALTER TABLE family_sync_queue AUTO_INCREMENT = 1, INSERT)")] : []),
    ]
    const script = (await writeScript(ctx, p.migrations, p.objects, 'what `family-sync migrate up` would run now', lockWait)) + (tables.length ? tables.join('\n') + '\n' : '')
    return { migrations: p.migrations, objects: p.objects.map(pendingOf), droppedTriggers: [...p.drop, ...p.intruders], script }
  }
  const server = await readServerInfo(session)
  await refuseReadOnly(session, server, options.force, 'migrate up')
  // On Galera taking the lock creates its table: a run that the preflight
  // refuses must change nothing, so it is refused before the lock as well.
  if (server.galera) refuse(await plan(session, catalogue, options))
  return withLockWait(session, lockWait, async () => {
    const lock = migrationLock(session, server, migratorOptions.lockTimeoutSeconds ?? LOCK_TIMEOUT_SECONDS, reporter)
    await lock.acquire()
    try {
      const p = await plan(session, catalogue, options)
      refuse(p)
      const result: UpResult = { migrations: [], objects: p.objects.map(pendingOf), droppedTriggers: [...p.drop, ...p.intruders] }
      if (p.empty) return result
      for (const warning of p.warnings) reporter.warn(warning)
      const ctx = context('apply', session, p, catalogue, migratorOptions, lock)
      if (p.migrations.length > 0) {
        const umzug = await umzugFor(ctx, session)
        let startedAt = Date.now()
        umzug.on('migrating', () => void (startedAt = Date.now()))
        umzug.on('migrated', ({ name }) => reporter.info(`migrated ${name} (${Date.now() - startedAt} ms)`))
        result.migrations = (await umzug.up({ migrations: p.migrations })).map((m) => m.name)
      }
      for (const planned of p.objects) {
        await lock.confirm()
        await installObject(ctx, planned.object, { definer: planned.definer, enableOnly: planned.enableOnly, moved: planned.moved })
        reporter.info(`${planned.enableOnly ? 'enabled' : planned.moved ? 'moved to users' : 'installed'} ${planned.kind} ${planned.name} (${planned.reason})`)
      }
      if (p.objects.some((o) => o.moved)) {
        // Writes to users while the triggers sat on the other table were not guarded.
        const repaired = await repairOnSession(session, { batchMs: ctx.batchMs, progress: ctx.progress, beforeBatch: () => lock.confirm() })
        reporter.info(`repaired ${repaired.fixed} children written while the triggers were on another table${repaired.pending ? `; ${repaired.pending} more are queued for the drain` : ''}`)
      }
      if (ctx.foreignToDrop.length > 0) await dropForeignTriggers(ctx)
      for (const name of p.drop) reporter.info(`dropped trigger ${name}`)
      for (const name of p.intruders) {
        await session.run(dropForeignStatement(name))
        reporter.info(`dropped trigger ${name}: it was on a table of family-sync's, which has none there`)
      }
      if (p.renumberQueue) reporter.info(`queued ${await renumberQueue(session)} entries again with low ids: the queue's ids were nearly used up`)
      return result
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
