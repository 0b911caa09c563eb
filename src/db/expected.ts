import { createStatementOf, type StoredObject } from '../objects.js'
import { normalizeSql } from '../sql/script.js'

/**
 * What the server should hold for an object, read from its file in triggers/:
 * the normalised body plus the header facts the server reports separately.
 */
export interface ExpectedObject {
  body: string
  header: Record<string, string>
}

export function expectedOf(object: StoredObject): ExpectedObject {
  const create = createStatementOf(object.name)
  if (object.kind === 'trigger') {
    const m = /^CREATE\s+TRIGGER\s+`?\w+`?\s+(BEFORE|AFTER)\s+(INSERT|UPDATE|DELETE)\s+ON\s+`?(\w+)`?\s+FOR\s+EACH\s+ROW\s+([\s\S]*)$/i.exec(create)
    if (!m) throw new Error(`triggers/${object.name}.sql: cannot read the trigger header`)
    return { body: normalizeSql(m[4]), header: { timing: m[1].toUpperCase(), event: m[2].toUpperCase(), table: m[3].toLowerCase() } }
  }
  if (object.kind === 'procedure') {
    const m = /^CREATE\s+PROCEDURE\s+`?\w+`?\s*\(([\s\S]*?)\)([\s\S]*?)\b(BEGIN\b[\s\S]*)$/i.exec(create)
    if (!m) throw new Error(`triggers/${object.name}.sql: cannot read the procedure header`)
    return { body: normalizeSql(m[3]), header: { parameters: normalizeParameters(m[1]) } }
  }
  const m = /^CREATE\s+EVENT\s+`?\w+`?\s+ON\s+SCHEDULE\s+EVERY\s+(\d+)\s+(\w+)[\s\S]*?\bDO\s+([\s\S]*)$/i.exec(create)
  if (!m) throw new Error(`triggers/${object.name}.sql: cannot read the event header`)
  return { body: normalizeSql(m[3]), header: { every: `${m[1]} ${m[2].toUpperCase()}` } }
}

/** `IN a INT, OUT b INT` and information_schema's parameters in one comparable form. */
export function normalizeParameters(list: string): string {
  return list
    .split(',')
    .map((p) => p.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\b(tinyint|smallint|mediumint|int|bigint)\(\d+\)/g, '$1'))
    .filter((p) => p !== '')
    .join(',')
}
