import { createHash } from 'node:crypto'
import type { Catalogue, StoredObject } from './catalogue.js'
import { normalizeSql } from '../sql/lexer.js'

/**
 * What the server should hold for an object, read from its file in triggers/:
 * the normalised body plus the header facts the server reports separately.
 */
export interface ExpectedObject {
  body: string
  header: Record<string, string>
}

export function expectedOf(catalogue: Catalogue, object: StoredObject): ExpectedObject {
  const create = catalogue.createStatement(object.name)
  if (object.kind === 'trigger') {
    const m = /^CREATE\s+TRIGGER\s+`?\w+`?\s+(BEFORE|AFTER)\s+(INSERT|UPDATE|DELETE)\s+ON\s+`?(\w+)`?\s+FOR\s+EACH\s+ROW\s+([\s\S]*)$/i.exec(create)
    if (!m) throw new Error(`triggers/${object.name}.sql: cannot read the trigger header`)
    return { body: normalizeSql(m[4]), header: { timing: m[1].toUpperCase(), event: m[2].toUpperCase(), table: m[3].toLowerCase() } }
  }
  if (object.kind === 'procedure') {
    const head = /^CREATE\s+PROCEDURE\s+`?\w+`?\s*\(/i.exec(create)
    const close = head ? closingParen(create, head[0].length) : -1
    if (!head || close === -1) throw new Error(`triggers/${object.name}.sql: cannot read the procedure header`)
    const rest = create.slice(close + 1).replace(/^\s*(?:(?:MODIFIES|READS)\s+SQL\s+DATA|CONTAINS\s+SQL|NO\s+SQL)\s+/i, '')
    return { body: normalizeSql(rest), header: { parameters: normalizeParameters(create.slice(head[0].length, close)) } }
  }
  const m = /^CREATE\s+EVENT\s+`?\w+`?\s+ON\s+SCHEDULE\s+EVERY\s+(\d+)\s+(\w+)[\s\S]*?\bDO\s+([\s\S]*)$/i.exec(create)
  if (!m) throw new Error(`triggers/${object.name}.sql: cannot read the event header`)
  return { body: normalizeSql(m[3]), header: { every: `${m[1]} ${m[2].toUpperCase()}` } }
}

/**
 * What family_sync_objects records for an object: a hash of its normalised
 * body and header facts. It is computed the same way from triggers/ and from
 * the server's copy, so an object can be told apart from what was installed
 * (edited since) as well as from this version's file.
 */
export function objectChecksum(object: ExpectedObject): string {
  const header = Object.keys(object.header).sort().map((key) => `${key}=${object.header[key]}`)
  return createHash('sha256').update([object.body, ...header].join('\n')).digest('hex')
}

/** Where the parenthesis opened just before `from` closes: parameter types have parentheses of their own. */
function closingParen(text: string, from: number): number {
  for (let depth = 1, i = from; i < text.length; i++) {
    if (text[i] === '(') depth++
    else if (text[i] === ')' && --depth === 0) return i
  }
  return -1
}

/** `IN a INT, OUT b INT` and information_schema's parameters in one comparable form. */
export function normalizeParameters(list: string): string {
  return list
    .split(/,(?![^(]*\))/)
    .map((p) => p.trim().toLowerCase().replace(/\s+/g, ' ').replace(/\b(tinyint|smallint|mediumint|int|bigint)\(\d+\)/g, '$1'))
    .filter((p) => p !== '')
    .join(',')
}
