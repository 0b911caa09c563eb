import type { Session } from '../connection/session.js'
import { DRAIN_STALE_SECONDS } from '../defaults.js'
import { shippedCatalogue, type Catalogue, type StoredObjectKind } from '../db/catalogue.js'
import { lastDrainAgeSeconds } from '../db/drain-runs.js'
import { dropForeignStatement, foreignTriggers, type ForeignTrigger } from '../db/foreign-triggers.js'
import { readInstalled, readInstalledThroughStatus, readIsReplica, readServerInfo, type Installed } from '../db/introspect.js'
import { HEARTBEAT_SECONDS } from '../db/liveness.js'
import { assessObjects, type ObjectReport } from '../db/object-state.js'
import { quotedAccount, readPrivileges, visibility } from '../db/privileges.js'
import { executedMigrations } from '../db/recorded.js'
import { missingIndexes } from '../db/indexes.js'
import { tableFindings } from '../db/table-integrity.js'
import { drainMetTriggerLoadFailure, triggerLoadFailure } from '../db/trigger-load.js'
import { FamilySyncError } from '../errors.js'
import { quoteIdentifier } from '../sql/identifiers.js'

export type ObjectStatus = Omit<ObjectReport, 'note'>

export interface VerifyReport {
  ok: boolean
  eventScheduler: 'ON' | 'OFF' | 'DISABLED'
  objects: ObjectStatus[]
  /** Triggers on users that are not family-sync's; one that writes users is a problem. */
  foreignTriggers: ForeignTrigger[]
  /** Each says what is wrong and the command that fixes it. */
  problems: string[]
  /** Worth knowing, not a failure. */
  notes: string[]
}

const MIGRATE_UP = 'run family-sync migrate up'

function problemOf(report: ObjectReport, installed: boolean, currentUser: string): string | null {
  const what = `${report.kind} ${report.name}`
  switch (report.state) {
    case 'missing':
      return installed
        ? `${what} is missing: ${MIGRATE_UP}, which reinstalls it from triggers/${report.name}.sql${report.kind === 'event' ? ' (as an account with the EVENT privilege)' : ''}`
        : `${what} is not installed yet: ${MIGRATE_UP}`
    case 'differs':
      return `${what} ${report.reason}: ${MIGRATE_UP}, which replaces it with triggers/${report.name}.sql`
    case 'elsewhere':
      return `${what} ${report.reason} (a table swap, RENAME TABLE users TO ..., took it along; writes to users are not guarded): ${MIGRATE_UP}, which moves it back to users and repairs what was missed meanwhile`
    case 'disabled':
      return `${what} is ${report.reason}: ${MIGRATE_UP}, which enables it for its owner`
    case 'definer-gone':
      return `${what} ${report.reason}: ${MIGRATE_UP}, which recreates it as the account that runs it (now ${currentUser}), or recreate that account`
    case 'owner-changed':
      return `${what} ${report.reason}: whoever replaced it can make it run their code; ${MIGRATE_UP}, which recreates it from triggers/${report.name}.sql for ${report.installed?.definer ?? 'the account it was installed for'}`
    default:
      return null
  }
}

/**
 * Each stored object present, identical to its file in triggers/ (comments
 * and layout aside), enabled where it should run, owned by an account that
 * still exists; no other trigger on users that writes users; family-sync's
 * tables still tables (no view in their place), with no trigger of another
 * account on them and queue ids left. Every problem names the command that
 * fixes it.
 */
export async function verifyOnSession(session: Session, catalogue: Catalogue = shippedCatalogue()): Promise<VerifyReport> {
  const server = await readServerInfo(session)
  const privileges = await readPrivileges(session, server.currentUser)
  const visible = visibility(privileges)
  let installed: Installed
  let runsAs: string | undefined
  if (visible.triggers && visible.events && visible.routines) {
    installed = await readInstalled(session, catalogue.objects.map((o) => o.name))
  } else {
    // A monitoring account: family_sync_status reads information_schema for it, with its definer's rights.
    const through = await readInstalledThroughStatus(session)
    if (!through) {
      const hidden = [
        ...(visible.triggers ? [] : [['TRIGGER ON `' + server.database + '`.users', 'triggers']]),
        ...(visible.events ? [] : [['EVENT ON `' + server.database + '`.*', 'events']]),
        ...(visible.routines ? [] : [['EXECUTE ON `' + server.database + '`.*', 'procedures']]),
      ]
      throw new FamilySyncError(
        `${server.currentUser} cannot see family-sync's ${hidden.map(([, what]) => what).join(' and ')}: information_schema shows them only to accounts with ` +
          `${hidden.map(([grant]) => grant).join(', ')}, and family_sync_status, which reads them for others, is not installed or not executable: ` +
          `GRANT EXECUTE ON ${quoteIdentifier(server.database)}.* TO ${quotedAccount(server.currentUser)} (after family-sync migrate up has installed it), or run verify as the account that ran migrate up`,
      )
    }
    installed = through.installed
    runsAs = through.runsAs
  }
  const replica = await readIsReplica(session)
  const drainAge = await lastDrainAgeSeconds(session)
  const everything = { triggers: true, events: true, routines: true }
  const reports = await assessObjects(
    session,
    { server, catalogue, replica, drainFresh: drainAge !== null && drainAge <= HEARTBEAT_SECONDS + DRAIN_STALE_SECONDS, visible: everything, knownAccounts: runsAs ? [runsAs] : [] },
    installed,
  )
  const executed = new Set(await executedMigrations(session))
  const problems: string[] = []
  const notes: string[] = []
  for (const report of reports) {
    const problem = problemOf(report, executed.has(catalogue.object(report.name).migration), server.currentUser)
    if (problem) problems.push(problem)
    if (report.note) notes.push(`${report.kind} ${report.name}: ${report.note}`)
    if (report.definerExists === null && report.definer) notes.push(`cannot tell whether ${report.definer} (definer of ${report.name}) still exists: this account may not read mysql.user`)
  }
  const foreign = foreignTriggers(installed.triggers)
  for (const trigger of foreign) {
    if (trigger.writesUsers) {
      problems.push(
        `trigger ${trigger.name} on users is not family-sync's and writes users: every write it fires on fails with error 1442; ` +
          `run family-sync migrate up --drop-foreign-trigger ${trigger.name}, or ${dropForeignStatement(trigger.name)}`,
      )
    } else {
      notes.push(`trigger ${trigger.name} (${trigger.timing} ${trigger.event} on users) is not family-sync's`)
    }
  }
  for (const finding of await tableFindings(session, server.capabilities, installed.triggers)) problems.push(finding.problem)
  const event = reports.find((r) => r.name === 'family_sync_drain_every_second' && r.present)
  const drain = reports.find((r) => r.name === 'family_sync_drain' && r.present)
  if (event?.definer && drain?.definer && event.definer !== drain.definer && event.state === 'ok' && drain.state === 'ok') {
    problems.push(
      `event family_sync_drain_every_second runs as ${event.definer} and procedure family_sync_drain belongs to ${drain.definer}: the event calls only a drain of its own definer, so nothing drains; ${MIGRATE_UP}, which installs both for one account`,
    )
  }
  for (const index of await missingIndexes(session)) problems.push(`${index.problem}: ${index.fix}`)
  // Only when a drain met it: the check writes (and rolls back) one row of users, firing its UPDATE triggers.
  const unloadable = installed.triggers.length > 0 && (await drainMetTriggerLoadFailure(session)) ? await triggerLoadFailure(session, server) : null
  if (unloadable) {
    problems.push(
      `every write on users fails on this server: ${unloadable}. MariaDB keeps a failed trigger load in its table cache when a statement ` +
        `is interrupted while loading the triggers (a Galera conflict, KILL QUERY, max_statement_time): run FLUSH TABLES users ` +
        `(needs RELOAD) to make it load them afresh; if writes still fail after that, the trigger itself does not parse on this server`,
    )
  }
  if (server.eventScheduler !== 'ON' && !server.readOnly) {
    notes.push(`the event scheduler is ${server.eventScheduler}: the drain event does not run; SET GLOBAL event_scheduler = ON, or run family-sync drain --watch`)
  }
  const objects = reports.map(({ note: _note, ...status }) => status)
  return { ok: problems.length === 0, eventScheduler: server.eventScheduler, objects, foreignTriggers: foreign, problems, notes }
}

export type { StoredObjectKind }
