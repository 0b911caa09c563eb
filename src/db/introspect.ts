import type { Session } from '../connection/session.js'
import { capabilitiesOf, type Capabilities } from './capabilities.js'

export interface ServerInfo {
  /** What this server can do; every difference between servers is read from here. */
  capabilities: Capabilities
  version: string
  database: string
  /** `user@host`, as CURRENT_USER() gives it. */
  currentUser: string
  logBin: boolean
  binlogFormat: string
  trustFunctionCreators: boolean
  eventScheduler: 'ON' | 'OFF' | 'DISABLED'
  /** read_only, or MySQL's super_read_only, is on. */
  readOnly: boolean
  /** A Galera node (wsrep_on). */
  galera: boolean
  /** host:port of this server, as the drain records it. */
  node: string
}

const VARIABLES = ['version', 'log_bin', 'binlog_format', 'log_bin_trust_function_creators', 'event_scheduler', 'read_only', 'super_read_only', 'wsrep_on', 'hostname', 'port']

// read_only is a boolean on MySQL and MariaDB 10.x, an enum on MariaDB 11.
const isOn = (value: string | undefined) => value !== undefined && !['0', 'OFF', ''].includes(value.toUpperCase())

/**
 * The server facts every command needs, in two statements. SHOW VARIABLES
 * lists only the variables a server has, so one statement serves MySQL
 * (super_read_only) and MariaDB (wsrep_on) alike.
 */
export async function readServerInfo(session: Session): Promise<ServerInfo> {
  const variables = new Map(
    (await session.query<{ Variable_name: string; Value: string }>(
      `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${VARIABLES.map(() => '?').join(', ')})`,
      VARIABLES,
    )).map((row) => [row.Variable_name.toLowerCase(), String(row.Value ?? '')]),
  )
  const [who] = await session.query<{ db: string | null; user: string }>('SELECT DATABASE() AS db, CURRENT_USER() AS user')
  const version = variables.get('version') ?? ''
  const scheduler = (variables.get('event_scheduler') ?? 'OFF').toUpperCase()
  return {
    capabilities: capabilitiesOf(version),
    version,
    database: who.db ?? '',
    currentUser: who.user,
    logBin: isOn(variables.get('log_bin')),
    binlogFormat: (variables.get('binlog_format') ?? '').toUpperCase(),
    trustFunctionCreators: isOn(variables.get('log_bin_trust_function_creators')),
    eventScheduler: scheduler === 'ON' || scheduler === '1' ? 'ON' : scheduler === 'DISABLED' ? 'DISABLED' : 'OFF',
    readOnly: isOn(variables.get('read_only')) || isOn(variables.get('super_read_only')),
    galera: isOn(variables.get('wsrep_on')),
    node: `${variables.get('hostname') ?? ''}:${variables.get('port') ?? ''}`,
  }
}

/**
 * Whether replication into this server is configured. Needs REPLICATION
 * CLIENT (MySQL) or SLAVE MONITOR (MariaDB); without it, null: unknown.
 * Group Replication's own channels (an InnoDB Cluster member, primary or
 * not) are not a replica's: read_only tells those apart.
 */
export async function readIsReplica(session: Session): Promise<boolean | null> {
  try {
    const channels = await session.query<Record<string, unknown>>('SHOW REPLICA STATUS')
    return channels.some((channel) => !/^group_replication_/.test(String(channel.Channel_Name ?? channel.Channel_name ?? '')))
  } catch {
    return null
  }
}

const ER_NO_SUCH_TABLE = 1146

/**
 * The result of a statement on family-sync's own tables, or `fallback` before
 * they exist: one statement where asking information_schema first would be two.
 */
export async function ifInstalled<T>(work: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if ((error as { errno?: number }).errno === ER_NO_SUCH_TABLE) return fallback
    throw error
  }
}

export async function tableExists(session: Session, table: string): Promise<boolean> {
  const n = await session.scalar<number>('SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table])
  return Number(n) > 0
}

export async function columnsOf(session: Session, tables: string[]): Promise<Map<string, string>> {
  const rows = await session.query<{ t: string; c: string; type: string }>(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS type FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${tables.map(() => '?').join(', ')})`,
    tables,
  )
  return new Map(rows.map((col) => [`${col.t.toLowerCase()}.${col.c.toLowerCase()}`, col.type.toLowerCase()]))
}

export interface InstalledTrigger {
  name: string
  table: string
  timing: string
  event: string
  body: string
  definer: string
  sqlMode: string
}

export interface InstalledProcedure {
  name: string
  /** NULL when this account may not read bodies (not the definer, no SHOW_ROUTINE or global SELECT). */
  body: string | null
  parameters: string
  definer: string
  sqlMode: string
  /** DEFINER or INVOKER. */
  securityType: string
}

export interface InstalledEvent {
  name: string
  body: string
  definer: string
  status: string
  every: string
  sqlMode: string
  /** When it was created or last altered: the drain is expected to have run since. */
  lastAltered: string
}

export interface Installed {
  triggers: InstalledTrigger[]
  procedures: InstalledProcedure[]
  events: InstalledEvent[]
}

/**
 * Every trigger of this database (ours and the application's), and the
 * procedures and events named in `names`. information_schema shows triggers
 * only to accounts with TRIGGER on their table and events only with EVENT:
 * see `visibility` in the privileges module for what an account can see.
 */
export async function readInstalled(session: Session, names: readonly string[]): Promise<Installed> {
  const triggers = await session.query<Row>(
    `SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS \`table\`, ACTION_TIMING AS timing, EVENT_MANIPULATION AS event,
            ACTION_STATEMENT AS body, DEFINER AS definer, SQL_MODE AS sqlMode
     FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY ACTION_ORDER`,
  )
  const list = names.map(() => '?').join(', ')
  const routines = await session.query<Row>(
    `SELECT ROUTINE_NAME AS name, ROUTINE_DEFINITION AS body, DEFINER AS definer, SQL_MODE AS sqlMode, SECURITY_TYPE AS securityType
     FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME IN (${list})`,
    names,
  )
  const parameters = await session.query<Row>(
    `SELECT SPECIFIC_NAME AS name, PARAMETER_MODE AS mode, PARAMETER_NAME AS pname, DTD_IDENTIFIER AS dtd FROM information_schema.PARAMETERS
     WHERE SPECIFIC_SCHEMA = DATABASE() AND SPECIFIC_NAME IN (${list}) AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ORDINAL_POSITION`,
    names,
  )
  const events = await session.query<Row>(
    `SELECT EVENT_NAME AS name, EVENT_DEFINITION AS body, DEFINER AS definer, STATUS AS status, INTERVAL_VALUE AS iv,
            INTERVAL_FIELD AS field, SQL_MODE AS sqlMode, LAST_ALTERED AS lastAltered
     FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() AND EVENT_NAME IN (${list})`,
    names,
  )
  return shapeInstalled(triggers, routines, parameters, events)
}

type Row = Record<string, unknown>

/** information_schema's rows as family-sync reads them, whether read directly or through family_sync_status. */
function shapeInstalled(triggers: Row[], routines: Row[], parameters: Row[], events: Row[]): Installed {
  return {
    triggers: triggers.map((t) => ({
      name: text(t.name),
      table: text(t.table).toLowerCase(),
      timing: text(t.timing),
      event: text(t.event),
      body: text(t.body),
      definer: text(t.definer),
      sqlMode: text(t.sqlMode),
    })),
    procedures: routines.map((r) => ({
      name: text(r.name),
      body: r.body === null || r.body === undefined ? null : String(r.body),
      definer: text(r.definer),
      sqlMode: text(r.sqlMode),
      securityType: text(r.securityType),
      parameters: parameters.filter((p) => p.name === r.name).map((p) => `${text(p.mode)} ${text(p.pname)} ${text(p.dtd)}`).join(','),
    })),
    events: events.map((e) => ({
      name: text(e.name),
      body: text(e.body),
      definer: text(e.definer),
      status: text(e.status),
      every: `${e.iv} ${e.field}`,
      sqlMode: text(e.sqlMode),
      lastAltered: text(e.lastAltered),
    })),
  }
}

const ER_SP_DOES_NOT_EXIST = 1305
const ER_PROCACCESS_DENIED_ERROR = 1370

/**
 * The same, through family_sync_status, which runs with its definer's
 * rights: for an account that information_schema shows too little (a
 * monitoring account with SELECT and EXECUTE only). Also the account it runs
 * as, which exists (a routine whose definer is gone cannot run). Null when
 * the procedure is not there or this account may not run it.
 */
export async function readInstalledThroughStatus(session: Session): Promise<{ installed: Installed; runsAs: string } | null> {
  let sets: Row[][]
  try {
    sets = await session.resultSets('CALL family_sync_status()')
  } catch (error) {
    const errno = (error as { errno?: number }).errno
    if (errno === ER_SP_DOES_NOT_EXIST || errno === ER_PROCACCESS_DENIED_ERROR) return null
    throw error
  }
  const [triggers, routines, parameters, events, who] = sets
  return { installed: shapeInstalled(triggers, routines, parameters, events), runsAs: text(who?.[0]?.runsAs) }
}

function text(value: unknown): string {
  return value === null || value === undefined ? '' : String(value)
}
