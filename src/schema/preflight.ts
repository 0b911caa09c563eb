import type { Knex } from 'knex'
import { readPrivileges, readServerInfo, type ServerInfo } from './server.js'

export interface PreflightReport {
  server: ServerInfo
  /** Each stops `migrate up`; each sentence says what to do. */
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

// What later migrations run: tables, triggers (replaced under LOCK TABLES),
// the procedure, and the backfill's reads and writes.
const REQUIRED_PRIVILEGES: Array<[privilege: string, why: string]> = [
  ['CREATE', 'to create family_sync_queue, family_sync_audit and family_sync_migrations'],
  ['TRIGGER', 'to create the three triggers on users'],
  ['CREATE ROUTINE', 'to create the family_sync_drain procedure'],
  ['LOCK TABLES', 'to replace triggers with no unguarded moment'],
  ['CREATE TEMPORARY TABLES', 'for the backfill and repair batches'],
  ['SELECT', 'to read users'],
  ['INSERT', 'to write the queue and the audit'],
  ['UPDATE', 'to repair children in users'],
  ['DELETE', 'to remove applied queue entries'],
]

/**
 * Everything `migrate up` needs, checked before anything changes. It reads
 * only: every problem is reported at once, each with its fix.
 */
export async function runPreflight(knex: Knex): Promise<PreflightReport> {
  const server = await readServerInfo(knex)
  const problems: string[] = []
  const warnings: string[] = []

  const supported = server.flavour === 'MariaDB' ? server.major > 10 || (server.major === 10 && server.minor >= 6) : server.major >= 8
  if (!supported) {
    problems.push(`${server.flavour} ${server.version} is not supported: use MySQL 8.0+ or MariaDB 10.6+ (SKIP LOCKED is required)`)
  }

  const [columns] = (await knex.raw(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS type FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('users', 'families')`,
  )) as [Array<{ t: string; c: string; type: string }>]
  const found = new Map(columns.map((col) => [`${col.t.toLowerCase()}.${col.c.toLowerCase()}`, col.type.toLowerCase()]))
  for (const [table, column, integer] of REQUIRED_COLUMNS) {
    const type = found.get(`${table}.${column}`)
    if (type === undefined) {
      problems.push(`${table}.${column} is missing: family-sync needs ${REQUIRED_COLUMNS.map(([t, c]) => `${t}.${c}`).join(', ')} in database '${server.database}'`)
    } else if (integer && !INTEGER_TYPES.has(type)) {
      problems.push(`${table}.${column} is ${type}: family-sync needs an integer column there`)
    }
  }

  const privileges = await readPrivileges(knex, server.currentUser)
  const hasAll = privileges.has('ALL PRIVILEGES')
  const missing = REQUIRED_PRIVILEGES.filter(([p]) => !hasAll && !privileges.has(p))
  for (const [privilege, why] of missing) {
    problems.push(`${server.currentUser} lacks the ${privilege} privilege (${why}): GRANT ${privilege} ON \`${server.database}\`.* TO ${server.currentUser}`)
  }
  if (server.logBin && !server.trustFunctionCreators && !hasAll && !privileges.has('SUPER')) {
    problems.push(
      'binary logging is on, log_bin_trust_function_creators is 0 and this account has no SUPER privilege, so CREATE TRIGGER would fail with error 1419: ' +
        'SET GLOBAL log_bin_trust_function_creators = 1 (and set it in the server config), or run migrate up as an account with SUPER',
    )
  }

  const [indexed] = (await knex.raw(
    `SELECT DISTINCT LOWER(COLUMN_NAME) AS c FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND SEQ_IN_INDEX = 1`,
  )) as [Array<{ c: string }>]
  const leading = new Set(indexed.map((row) => row.c))
  for (const column of ['parent_id', 'family_id']) {
    if (found.has(`users.${column}`) && !leading.has(column)) {
      warnings.push(`users.${column} has no index: triggers, drain and per-family checks will scan users; consider CREATE INDEX users_${column} ON users (${column})`)
    }
  }
  return { server, problems, warnings }
}

/**
 * Why the drain event cannot do its job, if it cannot: no EVENT privilege (the
 * event is not installed) or a scheduler that is not ON (it never runs).
 */
export function eventWarnings(server: ServerInfo, privileges: Set<string>): { canCreate: boolean; warnings: string[] } {
  const canCreate = privileges.has('ALL PRIVILEGES') || privileges.has('EVENT')
  const warnings: string[] = []
  if (!canCreate) {
    warnings.push(
      `${server.currentUser} lacks the EVENT privilege, so the every-second drain event was not installed: ` +
        `GRANT EVENT ON \`${server.database}\`.* TO ${server.currentUser} and run \`family-sync migrate down --to 0005_install_drain_event && family-sync migrate up\`, ` +
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
