import type { Knex } from 'knex'
import { STORED_OBJECTS, type StoredObject, type StoredObjectKind } from '../objects.js'
import { readServerInfo } from '../schema/server.js'
import { normalizeSql } from '../sql/script.js'
import { expectedOf, normalizeParameters } from './expected.js'

export interface ObjectStatus {
  name: string
  kind: StoredObjectKind
  present: boolean
  upToDate: boolean
  definer: string | null
  /** null when this account may not read the account list and the definer is someone else. */
  definerExists: boolean | null
}

export interface VerifyReport {
  ok: boolean
  eventScheduler: 'ON' | 'OFF' | 'DISABLED'
  objects: ObjectStatus[]
  problems: string[]
  /** Worth knowing, not a failure (the scheduler state, unknowable definers). */
  notes: string[]
}

interface Installed {
  body: string
  header: Record<string, string>
  definer: string
}

async function rows<T>(knex: Knex, sql: string, bindings: Knex.RawBinding[] = []): Promise<T[]> {
  const [result] = (await knex.raw(sql, bindings)) as [T[]]
  return result
}

async function readInstalled(knex: Knex): Promise<Map<string, Installed>> {
  const installed = new Map<string, Installed>()
  for (const t of await rows<{ name: string; timing: string; event: string; tbl: string; body: string; definer: string }>(
    knex,
    `SELECT TRIGGER_NAME AS name, ACTION_TIMING AS timing, EVENT_MANIPULATION AS event, EVENT_OBJECT_TABLE AS tbl,
            ACTION_STATEMENT AS body, DEFINER AS definer
     FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()`,
  )) {
    installed.set(`trigger:${t.name}`, { body: t.body, definer: t.definer, header: { timing: t.timing, event: t.event, table: t.tbl.toLowerCase() } })
  }
  for (const r of await rows<{ name: string; body: string | null; definer: string }>(
    knex,
    `SELECT ROUTINE_NAME AS name, ROUTINE_DEFINITION AS body, DEFINER AS definer
     FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_TYPE = 'PROCEDURE'`,
  )) {
    const params = await rows<{ mode: string; pname: string; dtd: string }>(
      knex,
      `SELECT PARAMETER_MODE AS mode, PARAMETER_NAME AS pname, DTD_IDENTIFIER AS dtd FROM information_schema.PARAMETERS
       WHERE SPECIFIC_SCHEMA = DATABASE() AND SPECIFIC_NAME = ? AND ORDINAL_POSITION > 0 ORDER BY ORDINAL_POSITION`,
      [r.name],
    )
    const parameters = normalizeParameters(params.map((p) => `${p.mode} ${p.pname} ${p.dtd}`).join(','))
    installed.set(`procedure:${r.name}`, { body: r.body ?? '', definer: r.definer, header: { parameters } })
  }
  for (const e of await rows<{ name: string; body: string; definer: string; iv: string | null; field: string | null; status: string }>(
    knex,
    `SELECT EVENT_NAME AS name, EVENT_DEFINITION AS body, DEFINER AS definer, INTERVAL_VALUE AS iv, INTERVAL_FIELD AS field, STATUS AS status
     FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()`,
  )) {
    installed.set(`event:${e.name}`, {
      body: e.status === 'ENABLED' ? e.body : `/* ${e.status} */ disabled`,
      definer: e.definer,
      header: { every: `${e.iv} ${e.field}` },
    })
  }
  return installed
}

function sameAsFile(object: StoredObject, installed: Installed): boolean {
  const expected = expectedOf(object)
  if (normalizeSql(installed.body) !== expected.body) return false
  return Object.entries(expected.header).every(([key, value]) => installed.header[key] === value)
}

async function definerExists(knex: Knex, definer: string, currentUser: string): Promise<boolean | null> {
  if (definer === currentUser) return true
  const at = definer.lastIndexOf('@')
  try {
    const found = await rows<{ n: number }>(knex, 'SELECT COUNT(*) AS n FROM mysql.user WHERE User = ? AND Host = ?', [definer.slice(0, at), definer.slice(at + 1)])
    return Number(found[0].n) > 0
  } catch {
    return null
  }
}

const HOW_TO_INSTALL = (name: string) => `run triggers/${name}.sql in the mysql client as an account that will not be dropped (\`family-sync sql\` prints every statement)`

/**
 * Each object of SPEC §4 present, identical to its file in triggers/ (comments
 * and layout aside), and owned by an account that still exists.
 */
export async function verifyTriggers(knex: Knex): Promise<VerifyReport> {
  const server = await readServerInfo(knex)
  const installed = await readInstalled(knex)
  const problems: string[] = []
  const notes: string[] = []
  const objects: ObjectStatus[] = []
  for (const object of STORED_OBJECTS) {
    const found = installed.get(`${object.kind}:${object.name}`)
    if (!found) {
      objects.push({ name: object.name, kind: object.kind, present: false, upToDate: false, definer: null, definerExists: null })
      problems.push(`${object.kind} ${object.name} is missing: ${HOW_TO_INSTALL(object.name)}`)
      continue
    }
    const upToDate = sameAsFile(object, found)
    const exists = await definerExists(knex, found.definer, server.currentUser)
    objects.push({ name: object.name, kind: object.kind, present: true, upToDate, definer: found.definer, definerExists: exists })
    if (!upToDate) {
      problems.push(`${object.kind} ${object.name} differs from triggers/${object.name}.sql (changed by hand or by another version): replace it, ${HOW_TO_INSTALL(object.name)}`)
    }
    if (exists === false) {
      problems.push(
        `${object.kind} ${object.name} belongs to ${found.definer}, an account that no longer exists: ` +
          (object.kind === 'trigger' ? 'every write to users will fail with error 1449; ' : 'it will fail when it runs; ') +
          `recreate it as an existing account (${HOW_TO_INSTALL(object.name)}) or recreate the account`,
      )
    } else if (exists === null) {
      notes.push(`cannot tell whether ${found.definer} (definer of ${object.name}) still exists: this account may not read mysql.user`)
    }
  }
  if (server.eventScheduler !== 'ON') {
    notes.push(`the event scheduler is ${server.eventScheduler}: the drain event does not run; SET GLOBAL event_scheduler = ON or run \`family-sync drain --watch\``)
  }
  return { ok: problems.length === 0, eventScheduler: server.eventScheduler, objects, problems, notes }
}
