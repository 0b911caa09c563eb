import { MIGRATION_NAMES } from '../../migrations/index.js'
import type { Session } from '../connection/session.js'
import { LOCK_TIMEOUT_SECONDS, LOCK_WAIT_SECONDS } from '../defaults.js'
import { shippedCatalogue } from '../db/catalogue.js'
import { readInstalled, readServerInfo, tableExists } from '../db/introspect.js'
import { refuseReadOnly } from '../db/read-only.js'
import { executedMigrations } from '../db/recorded.js'
import { QUEUE_TABLE } from '../db/tables.js'
import { drainOnSession } from '../drain/drain.js'
import { FamilySyncError } from '../errors.js'
import { migrationLock } from './lock.js'
import type { DownOptions, DownResult, MigratorOptions } from './migrator.js'
import { assessObjects } from '../db/object-state.js'
import { knownMigration, skewFailure, versionSkew } from './plan.js'
import { context, umzugFor, withLockWait } from './run-context.js'

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
    const lock = migrationLock(session, server, migratorOptions.lockTimeoutSeconds ?? LOCK_TIMEOUT_SECONDS, migratorOptions.reporter)
    await lock.acquire()
    try {
      const installed = await readInstalled(session, catalogue.objects.map((o) => o.name))
      const everything = { triggers: true, events: true, routines: true }
      const reports = await assessObjects(session, { server, catalogue, replica: false, drainFresh: false, visible: everything }, installed)
      const skew = await versionSkew(session, reports)
      if (skew.length > 0) throw skewFailure(skew, 'migrate down')
      const names = toRevert(await executedMigrations(session), options)
      if (names.length === 0) return { migrations: [] }
      if (names.includes('0004_install_drain_procedure') || names.includes('0002_create_sync_tables')) await guardQueue(session)
      const ctx = context('apply', session, undefined, catalogue, migratorOptions, lock)
      ctx.server = server
      ctx.installed = installed
      const umzug = await umzugFor(ctx, session)
      umzug.on('reverted', ({ name }) => ctx.reporter.info(`reverted ${name}`))
      return { migrations: (await umzug.down({ migrations: names })).map((m) => m.name) }
    } finally {
      await lock.release()
    }
  })
}

