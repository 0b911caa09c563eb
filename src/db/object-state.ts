import type { Session } from '../connection/session.js'
import { normalizeSql } from '../sql/lexer.js'
import type { Catalogue, StoredObject, StoredObjectKind } from './catalogue.js'
import { expectedOf, normalizeParameters } from './expected.js'
import { ifInstalled, readInstalled, type Installed, type ServerInfo } from './introspect.js'
import { OBJECTS_TABLE } from './tables.js'

export type ObjectState = 'ok' | 'missing' | 'differs' | 'disabled' | 'definer-gone' | 'unknown'

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
  /** A drain ran somewhere in the cluster within the stale limit (Galera: the event runs on another node). */
  drainFresh: boolean
  /** Which kinds information_schema shows this account. */
  visible: { triggers: boolean; events: boolean; routines: boolean }
}

async function recordedChecksums(session: Session): Promise<Map<string, string>> {
  const rows = await ifInstalled(() => session.query<{ name: string; checksum: string }>(`SELECT name, checksum FROM ${OBJECTS_TABLE}`), [])
  return new Map(rows.map((row) => [row.name, row.checksum]))
}

/** Which definers still exist; null for each this account cannot look up (no SELECT on mysql.user). */
async function definersExist(session: Session, definers: string[], currentUser: string): Promise<Map<string, boolean | null>> {
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
}

function findInstalled(installed: Installed, object: StoredObject): Found | undefined {
  if (object.kind === 'trigger') {
    const t = installed.triggers.find((x) => x.name === object.name)
    return t && { body: t.body, definer: t.definer, sqlMode: t.sqlMode, header: { timing: t.timing, event: t.event, table: t.table } }
  }
  if (object.kind === 'procedure') {
    const p = installed.procedures.find((x) => x.name === object.name)
    return p && { body: p.body, definer: p.definer, sqlMode: p.sqlMode, header: { parameters: normalizeParameters(p.parameters) } }
  }
  const e = installed.events.find((x) => x.name === object.name)
  return e && { body: e.body, definer: e.definer, sqlMode: e.sqlMode, status: e.status, header: { every: e.every } }
}

/**
 * Each stored object of the catalogue against the server's copy: present,
 * identical to triggers/ (comments and layout aside), created under a sane
 * sql_mode, enabled where it should run, owned by an account that exists.
 */
export async function assessObjects(session: Session, input: AssessInput, installed?: Installed): Promise<ObjectReport[]> {
  const { server, catalogue } = input
  const onServer = installed ?? (await readInstalled(session, catalogue.objects.map((o) => o.name)))
  const checksums = await recordedChecksums(session)
  const found = catalogue.objects.map((object) => [object, findInstalled(onServer, object)] as const)
  const definers = await definersExist(session, found.flatMap(([, f]) => (f ? [f.definer] : [])), server.currentUser)
  const replicaSide = server.readOnly || input.replica === true

  return found.map(([object, f]): ObjectReport => {
    const base = { name: object.name, kind: object.kind }
    const visible = object.kind === 'trigger' ? input.visible.triggers : object.kind === 'event' ? input.visible.events : input.visible.routines
    if (!f) {
      if (!visible) return { ...base, present: false, upToDate: false, definer: null, definerExists: null, state: 'unknown', reason: 'not visible to this account', note: null }
      return { ...base, present: false, upToDate: false, definer: null, definerExists: null, state: 'missing', reason: 'missing', note: null }
    }
    const expected = expectedOf(catalogue, object)
    let note: string | null = null
    let differs: string | null = null
    if (f.body === null) {
      // The server hides a procedure body from accounts other than its definer
      // (MySQL: without SHOW_ROUTINE). The checksum recorded at install stands in.
      const recorded = checksums.get(object.name)
      if (recorded === undefined) note = 'its body is not visible to this account (SHOW_ROUTINE, or be its definer) and no checksum was recorded'
      else if (recorded !== catalogue.checksum(object.name)) differs = 'installed from another version of triggers/ (recorded checksum differs)'
      else note = 'compared by the checksum recorded at install: its body is not visible to this account'
    } else if (normalizeSql(f.body) !== expected.body || Object.entries(expected.header).some(([k, v]) => f.header[k] !== v)) {
      differs = checksums.has(object.name) && checksums.get(object.name) !== catalogue.checksum(object.name)
        ? 'triggers/ has changed since it was installed (a new version of family-sync)'
        : 'differs from triggers/ (edited by hand, or installed by another version)'
    } else if (strayModes(f.sqlMode).length > 0) {
      differs = `created under sql_mode ${strayModes(f.sqlMode).join(',')}, which changes how its body reads`
    }
    const definerExists = definers.get(f.definer) ?? null
    const report: ObjectReport = {
      ...base,
      present: true,
      upToDate: differs === null,
      definer: f.definer,
      definerExists,
      state: differs ? 'differs' : 'ok',
      reason: differs,
      note,
      ...(f.status ? { status: f.status } : {}),
    }
    if (!differs && definerExists === false) {
      report.state = 'definer-gone'
      report.reason = `belongs to ${f.definer}, an account that no longer exists: ${object.kind === 'trigger' ? 'every write to users fails with error 1449' : 'it fails when it runs'}`
    }
    if (f.status !== undefined && f.status !== 'ENABLED' && report.state === 'ok') {
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
