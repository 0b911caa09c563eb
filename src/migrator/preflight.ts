import type { Session } from '../connection/session.js'
import { dropForeignStatement, type ForeignTrigger } from '../db/foreign-triggers.js'
import { columnsOf, type ServerInfo } from '../db/introspect.js'
import { familyKeysThatMeetLaggingChildren } from '../db/family-keys.js'
import { missingIndexes } from '../db/indexes.js'
import { installRequirements, mayCreateTriggersWithBinlog, maySetDefiner, quotedAccount } from '../db/privileges.js'
import { quoteIdentifier } from '../sql/identifiers.js'

export interface PreflightReport {
  /** Each stops `migrate up` before any change; each sentence says what to do. */
  problems: string[]
  /** Each is worth knowing and stops nothing. */
  warnings: string[]
}

const REQUIRED_COLUMNS: Array<[table: string, column: string, integer: boolean]> = [
  ['users', 'id', true],
  ['users', 'username', false],
  ['users', 'parent_id', true],
  ['users', 'family_id', true],
  ['families', 'id', true],
]

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint'])

export interface PreflightInput {
  server: ServerInfo
  privileges: Set<string>
  foreign: ForeignTrigger[]
  /** Foreign triggers the caller asked to drop (--drop-foreign-trigger). */
  dropForeign: string[]
  /** Whom the objects will be installed for. */
  definer: string
  /** Install even though users.parent_id or users.family_id has no index (--allow-missing-index). */
  allowMissingIndex: boolean
}

/**
 * Everything `migrate up` needs, checked before anything changes. It reads
 * only, and reports every problem at once, each with its fix.
 */
export async function runPreflight(session: Session, input: PreflightInput): Promise<PreflightReport> {
  const { server, privileges } = input
  const problems: string[] = []
  const warnings: string[] = []

  const { capabilities } = server
  if (!capabilities.supported) problems.push(`${capabilities.engine} ${server.version} is not supported: use ${capabilities.engine} ${capabilities.oldestSupported} or later (SKIP LOCKED is required)`)

  const found = await columnsOf(session, ['users', 'families'])
  // One problem for every missing column: a wrong database misses them all, and one line says so once.
  const missing: string[] = []
  for (const [table, column, integer] of REQUIRED_COLUMNS) {
    const type = found.get(`${table}.${column}`)
    if (type === undefined) missing.push(`${table}.${column}`)
    else if (integer && !INTEGER_TYPES.has(type)) problems.push(`${table}.${column} is ${type}: family-sync needs an integer column there`)
  }
  const needed = REQUIRED_COLUMNS.map(([t, c]) => `${t}.${c}`).join(', ')
  if (missing.length === REQUIRED_COLUMNS.length) {
    problems.push(`none of the application's columns family-sync works on (${needed}) is in database '${server.database}' (is the database in the URL the application's?)`)
  } else if (missing.length > 0) {
    problems.push(`the application's ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: family-sync works on ${needed} in database '${server.database}'`)
  }

  for (const { privilege, why } of installRequirements(server)) {
    if (!privileges.has(privilege)) {
      problems.push(`${server.currentUser} lacks the ${privilege} privilege (${why}): GRANT ${privilege} ON ${quoteIdentifier(server.database)}.* TO ${quotedAccount(server.currentUser)}`)
    }
  }
  if (!mayCreateTriggersWithBinlog(server, privileges)) {
    const why = server.galera ? 'this is a Galera node (wsrep_on), which applies the binary-logging rule' : 'binary logging is on'
    const grant = capabilities.binlogTriggerGrant
    problems.push(
      `${why}, log_bin_trust_function_creators is 0 and this account has no ${grant}, so CREATE TRIGGER would fail with error 1419: ` +
        `SET GLOBAL log_bin_trust_function_creators = 1 (and set it in the server config, or the parameter group on a managed service), or run migrate up as an account with ${grant}`,
    )
  }
  if (server.logBin && server.binlogFormat === 'STATEMENT') {
    problems.push(
      "binlog_format is STATEMENT: the drain takes queue entries with SKIP LOCKED, which a statement-based replica cannot replay the same way; SET GLOBAL binlog_format = 'ROW' and in the server config (MIXED works too, but MySQL deprecates it)",
    )
  }

  for (const trigger of input.foreign) {
    if (input.dropForeign.includes(trigger.name)) continue
    if (trigger.writesUsers) {
      problems.push(
        `trigger ${trigger.name} on users is not family-sync's and writes users: every write it fires on would fail with error 1442 (the bug report's trigger does this); ` +
          `run migrate up --drop-foreign-trigger ${trigger.name}, or ${dropForeignStatement(trigger.name)}`,
      )
    } else {
      warnings.push(`trigger ${trigger.name} (${trigger.timing} ${trigger.event} on users) is not family-sync's; it is left as it is`)
    }
  }
  for (const name of input.dropForeign) {
    if (!input.foreign.some((t) => t.name === name)) problems.push(`--drop-foreign-trigger ${name}: there is no such trigger on users other than family-sync's own`)
  }

  for (const index of await missingIndexes(session)) {
    if (input.allowMissingIndex) warnings.push(`${index.problem} (installing anyway: --allow-missing-index)`)
    else problems.push(`${index.problem}: ${index.fix}, or pass --allow-missing-index to install without it`)
  }
  for (const key of await familyKeysThatMeetLaggingChildren(session)) {
    warnings.push(
      `users.family_id has the foreign key ${key.name} with ON DELETE ${key.deleteRule}: children follow a parent's new family after its transaction commits, ` +
        `so deleting the old family in that same transaction ${key.deleteRule === 'CASCADE' ? 'deletes them with it' : 'fails while they still reference it (error 1451)'}; ` +
        'call family_sync_move_children(parent_id) in the transaction right after changing the parent (see the README)',
    )
  }
  if (input.definer !== server.currentUser && !maySetDefiner(server, privileges)) {
    problems.push(
      `installing the objects for ${input.definer} needs ${capabilities.setDefinerGrant}, which ${server.currentUser} lacks: run migrate up as ${input.definer}, or as an account with that privilege`,
    )
  }
  return { problems, warnings }
}

/**
 * Why the drain event cannot do its job, if it cannot: no EVENT privilege (the
 * event is not installed) or a scheduler that is not ON (it never runs).
 */
export function eventWarnings(server: ServerInfo, privileges: Set<string>): { canCreate: boolean; warnings: string[] } {
  const canCreate = privileges.has('EVENT')
  const warnings: string[] = []
  if (!canCreate) {
    warnings.push(
      `${server.currentUser} lacks the EVENT privilege, so the drain event is not installed: ` +
        `GRANT EVENT ON ${quoteIdentifier(server.database)}.* TO ${quotedAccount(server.currentUser)} and run family-sync migrate up again, ` +
        'or run `family-sync drain --watch` beside the application',
    )
  } else if (server.eventScheduler !== 'ON') {
    warnings.push(
      `the event scheduler is ${server.eventScheduler}, so the drain event will not run and children follow a parent's new family only when something drains the queue: ` +
        (server.eventScheduler === 'DISABLED'
          ? 'restart the server with event_scheduler=ON, or run `family-sync drain --watch`'
          : 'SET GLOBAL event_scheduler = ON (and event_scheduler=ON in the server config), or run `family-sync drain --watch`'),
    )
  }
  return { canCreate, warnings }
}
