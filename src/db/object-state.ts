import type { Session } from '../connection/session.js'
import { normalizeSql } from '../sql/lexer.js'
import { packageVersion } from '../paths.js'
import { isNewer } from '../version.js'
import type { Catalogue, StoredObject, StoredObjectKind } from './catalogue.js'
import { expectedOf, normalizeParameters, objectChecksum } from './expected.js'
import { ifInstalled, readInstalled, type Installed, type ServerInfo } from './introspect.js'
import { OBJECTS_TABLE } from './tables.js'

export type ObjectState = 'ok' | 'missing' | 'differs' | 'disabled' | 'definer-gone' | 'owner-changed' | 'elsewhere' | 'newer' | 'unknown'

export interface ObjectReport {
  name: string
  kind: StoredObjectKind
  present: boolean
  upToDate: boolean
  definer: string | null
  /** null when this account may not read the account list and the definer is someone else. */
  definerExists: boolean | null
  state: ObjectState
  /** Why the state is not ok, in words, without the fix. */
  reason: string | null
  /** Worth knowing and not a problem: an event a replica keeps disabled, a body compared by checksum. */
  note: string | null
  /** An event's STATUS as the server reports it. */
  status?: string
  /** A procedure's SQL SECURITY. */
  securityType?: string
  /** What migrate up recorded when it installed the object, if it did. */
  installed: RecordedObject | null
  /** The checksum of the server's copy (as family_sync_objects records them); null when it cannot be read. */
  checksum: string | null
}

/** A row of family_sync_objects: what was installed, for whom, when, by which version. */
export interface RecordedObject {
  checksum: string
  definer: string | null
  securityType: string | null
  installedAt: string | null
  version: string | null
}

// Modes that change how a stored body parses or evaluates. An object created
// under one of them (a server-wide mode that leaked into the installing
// session) does not do what triggers/ says, however alike the text looks.
// IGNORE_SPACE is not among them: mysql2 and other drivers set it on every
// session, and no body of triggers/ reads differently under it.
const PARSE_MODES = ['ANSI_QUOTES', 'PIPES_AS_CONCAT', 'NO_BACKSLASH_ESCAPES', 'ORACLE', 'ANSI', 'DB2', 'MAXDB', 'MSSQL', 'POSTGRESQL', 'EMPTY_STRING_IS_NULL', 'SIMULTANEOUS_ASSIGNMENT', 'HIGH_NOT_PRECEDENCE']

function strayModes(sqlMode: string): string[] {
  const modes = new Set(sqlMode.toUpperCase().split(','))
  return PARSE_MODES.filter((mode) => modes.has(mode))
}

export interface AssessInput {
  server: ServerInfo
  catalogue: Catalogue
  /** This server is a replica (SHOW REPLICA STATUS), or null if unknown. */
  replica: boolean | null
  /** A drain ran somewhere in the cluster lately (Galera: the event runs on another node). */
  drainFresh: boolean
  /** Which kinds information_schema shows this account. */
  visible: { triggers: boolean; events: boolean; routines: boolean }
  /** Accounts known to exist without looking them up (the one family_sync_status runs as). */
  knownAccounts?: string[]
}

/** family_sync_objects, by object name; empty before it exists. Rows of 0.2 and earlier have no owner or version. */
export async function recordedObjects(session: Session): Promise<Map<string, RecordedObject>> {
  const rows = await ifInstalled(async () => {
    const columns = new Set(
      (await session.query<{ c: string }>(
        `SELECT LOWER(COLUMN_NAME) AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${OBJECTS_TABLE}'`,
      )).map((row) => row.c),
    )
    if (columns.size === 0) return []
    const column = (name: string) => (columns.has(name) ? name : 'NULL')
    return session.query<RecordedObject & { name: string }>(
      `SELECT name, checksum, ${column('definer')} AS definer, ${column('security_type')} AS securityType,
              DATE_FORMAT(installed_at, '%Y-%m-%dT%H:%i:%s') AS installedAt, ${column('version')} AS version
       FROM ${OBJECTS_TABLE}`,
    )
  }, [])
  return new Map(rows.map(({ name, ...row }) => [name, row]))
}

/** Which definers still exist; null for each this account cannot look up (no SELECT on mysql.user). */
export async function definersExist(session: Session, definers: string[], currentUser: string): Promise<Map<string, boolean | null>> {
  const result = new Map<string, boolean | null>()
  const others = [...new Set(definers)].filter((d) => d !== currentUser)
  for (const definer of definers) if (definer === currentUser) result.set(definer, true)
  if (others.length === 0) return result
  const pairs = others.map((d) => [d.slice(0, d.lastIndexOf('@')), d.slice(d.lastIndexOf('@') + 1)])
  try {
    const found = await session.query<{ User: string; Host: string }>(
      `SELECT User, Host FROM mysql.user WHERE (User, Host) IN (${pairs.map(() => '(?, ?)').join(', ')})`,
      pairs.flat(),
    )
    const exists = new Set(found.map((row) => `${row.User}@${row.Host}`))
    for (const definer of others) result.set(definer, exists.has(definer))
  } catch {
    for (const definer of others) result.set(definer, null)
  }
  return result
}

interface Found {
  body: string | null
  header: Record<string, string>
  definer: string
  sqlMode: string
  status?: string
  securityType?: string
}

function findInstalled(installed: Installed, object: StoredObject): Found | undefined {
  if (object.kind === 'trigger') {
    const t = installed.triggers.find((x) => x.name === object.name)
    return t && { body: t.body, definer: t.definer, sqlMode: t.sqlMode, header: { timing: t.timing, event: t.event, table: t.table } }
  }
  if (object.kind === 'procedure') {
    const p = installed.procedures.find((x) => x.name === object.name)
    return p && { body: p.body, definer: p.definer, sqlMode: p.sqlMode, securityType: p.securityType, header: { parameters: normalizeParameters(p.parameters) } }
  }
  const e = installed.events.find((x) => x.name === object.name)
  return e && { body: e.body, definer: e.definer, sqlMode: e.sqlMode, status: e.status, header: { every: e.every } }
}

/** How the server's copy compares with this version's file and with what was recorded at install. */
function serverChecksum(f: Found): string | null {
  return f.body === null ? null : objectChecksum({ body: normalizeSql(f.body), header: f.header })
}

function compareBody(catalogue: Catalogue, object: StoredObject, f: Found, recorded: RecordedObject | undefined): { differs: string | null; newer: string | null; note: string | null } {
  const ours = catalogue.checksum(object.name)
  if (f.body === null) {
    // The server hides a procedure body from accounts other than its definer
    // (MySQL: without SHOW_ROUTINE). The checksum recorded at install stands in.
    if (recorded === undefined) return { differs: null, newer: null, note: 'its body is not visible to this account (SHOW_ROUTINE, or be its definer) and no checksum was recorded' }
    if (recorded.checksum === ours) return { differs: null, newer: null, note: 'compared by the checksum recorded at install: its body is not visible to this account' }
    if (isNewer(recorded.version)) return { differs: null, newer: recorded.version, note: null }
    return { differs: 'installed from another version of triggers/ (recorded checksum differs)', newer: null, note: null }
  }
  const theirs = serverChecksum(f)
  if (theirs === ours) return { differs: null, newer: null, note: null }
  // Exactly what a newer version installed: not ours to judge, nor to replace.
  if (recorded && recorded.checksum === theirs && isNewer(recorded.version)) return { differs: null, newer: recorded.version, note: null }
  const expectedTable = expectedOf(catalogue, object).header.table
  if (object.kind === 'trigger' && expectedTable && f.header.table !== expectedTable) return { differs: `sits on ${f.header.table}, not ${expectedTable}`, newer: null, note: null }
  const why = !recorded
    ? 'edited by hand, or installed by another version'
    : recorded.checksum === ours
      ? 'edited since it was installed'
      : recorded.checksum === theirs
        ? 'triggers/ has changed since it was installed: a new version of family-sync'
        : 'edited since it was installed by another version'
  return { differs: `differs from triggers/ (${why})`, newer: null, note: null }
}

/** Who should own the object now, if it no longer belongs there: a routine that runs as someone else runs their code. */
function ownerChange(object: StoredObject, f: Found, recorded: RecordedObject | undefined): string | null {
  const changes: string[] = []
  if (object.kind === 'procedure' && f.securityType !== undefined && f.securityType.toUpperCase() !== 'DEFINER') {
    changes.push(`runs with SQL SECURITY ${f.securityType.toUpperCase()} (as whoever calls it, the drain event's definer included), not DEFINER as installed`)
  }
  if (recorded?.definer && recorded.definer !== f.definer) changes.push(`belongs to ${f.definer}, but migrate up installed it for ${recorded.definer}`)
  return changes.length > 0 ? changes.join(', and ') : null
}

/**
 * Each stored object of the catalogue against the server's copy: present,
 * identical to triggers/ (comments and layout aside), created under a sane
 * sql_mode, owned by whom migrate up installed it for, enabled where it
 * should run, owned by an account that exists.
 */
export async function assessObjects(session: Session, input: AssessInput, installed?: Installed): Promise<ObjectReport[]> {
  const { server, catalogue } = input
  const onServer = installed ?? (await readInstalled(session, catalogue.objects.map((o) => o.name)))
  const recorded = await recordedObjects(session)
  const found = catalogue.objects.map((object) => [object, findInstalled(onServer, object)] as const)
  const known = new Set(input.knownAccounts ?? [])
  const definers = await definersExist(session, found.flatMap(([, f]) => (f && !known.has(f.definer) ? [f.definer] : [])), server.currentUser)
  for (const account of known) definers.set(account, true)
  const replicaSide = server.readOnly || input.replica === true

  return found.map(([object, f]): ObjectReport => {
    const record = recorded.get(object.name)
    const base = { name: object.name, kind: object.kind, installed: record ?? null }
    const visible = object.kind === 'trigger' ? input.visible.triggers : object.kind === 'event' ? input.visible.events : input.visible.routines
    if (!f) {
      if (!visible) return { ...base, present: false, upToDate: false, definer: null, definerExists: null, state: 'unknown', reason: 'not visible to this account', note: null, checksum: null }
      return { ...base, present: false, upToDate: false, definer: null, definerExists: null, state: 'missing', reason: 'missing', note: null, checksum: null }
    }
    const body = compareBody(catalogue, object, f, record)
    const stray = strayModes(f.sqlMode)
    const differs = body.differs ?? (!body.newer && stray.length > 0 ? `created under sql_mode ${stray.join(',')}, which changes how its body reads` : null)
    // MariaDB shows a trigger it cannot parse with an empty definer: unknown, not gone.
    const definerExists = f.definer === '' ? null : (definers.get(f.definer) ?? null)
    const report: ObjectReport = {
      ...base,
      present: true,
      upToDate: differs === null && body.newer === null,
      definer: f.definer || null,
      definerExists,
      state: differs ? (body.differs?.startsWith('sits on') ? 'elsewhere' : 'differs') : 'ok',
      reason: differs,
      note: body.note,
      checksum: serverChecksum(f) ?? (body.note && record ? record.checksum : null),
      ...(f.status ? { status: f.status } : {}),
      ...(f.securityType ? { securityType: f.securityType } : {}),
    }
    if (body.newer) {
      report.state = 'newer'
      report.reason = `installed by family-sync ${body.newer}, newer than this version (${packageVersion()})`
      report.note = `installed by family-sync ${body.newer}, a newer version than this one (${packageVersion()}); left as it is`
    }
    const owner = report.state === 'elsewhere' || f.definer === '' ? null : ownerChange(object, f, record)
    if (definerExists === false && (report.state === 'ok' || owner)) {
      report.state = 'definer-gone'
      report.reason = `belongs to ${f.definer}, an account that no longer exists: ${object.kind === 'trigger' ? 'every write to users fails with error 1449' : 'it fails when it runs'}`
    } else if (owner) {
      report.state = 'owner-changed'
      report.reason = differs ? `${owner}, and ${differs}` : owner
    }
    if (f.status !== undefined && f.status !== 'ENABLED' && (report.state === 'ok' || report.state === 'newer')) {
      const byReplication = f.status !== 'DISABLED'
      if (replicaSide) {
        report.note = byReplication ? `${f.status} on this replica, as replication leaves it: the primary runs it` : 'DISABLED on this read-only server'
      } else if (server.galera && byReplication && input.drainFresh) {
        report.note = `${f.status} on this node: it runs on the node that created it, whose drain runs are recent`
      } else {
        report.state = 'disabled'
        report.reason = byReplication
          ? `${f.status} on a writable server: replication left it disabled (after a failover?) and the drain does not run`
          : 'DISABLED: the drain does not run'
      }
    }
    return report
  })
}
