import { tokenize } from '../sql/lexer.js'
import { OUR_TRIGGERS } from './catalogue.js'
import type { InstalledTrigger } from './introspect.js'

export interface ForeignTrigger {
  name: string
  timing: string
  event: string
  /**
   * Its body writes users: every statement that fires it then fails with
   * error 1442 when the write happens (the bug report's trigger, whatever its name).
   */
  writesUsers: boolean
}

const TABLE = '(?:`?\\w+`?\\.)?`?users`?'
// The statements that write a table, with users as their target. A body that
// only reads users (or writes another table from it) does not match.
const WRITES_USERS = [
  new RegExp(`\\b(?:insert|replace)(?:\\s+(?:low_priority|delayed|high_priority|ignore))*(?:\\s+into)?\\s+${TABLE}(?![\\w\`])`),
  new RegExp(`\\bupdate(?:\\s+(?:low_priority|ignore))*\\s+(?:(?!\\bset\\b)[^;])*?(?<![\\w.\`])${TABLE}(?![\\w\`])(?:(?!\\bset\\b)[^;])*\\bset\\b`),
  new RegExp(`\\bdelete\\b(?:(?!\\bwhere\\b)[^;])*?\\bfrom\\b(?:(?!\\bwhere\\b)[^;])*?(?<![\\w.\`])${TABLE}(?![\\w\`])`),
]

/** Whether a trigger body writes users. A body that calls a procedure which does is not seen. */
export function writesUsers(body: string): boolean {
  // Words lower-cased, strings blanked (a literal that mentions users writes
  // nothing), comments dropped, single spaces: one pattern covers every layout.
  const text = tokenize(body)
    .filter((t) => t.kind !== 'comment')
    .map((t) => (t.kind === 'word' ? t.text.toLowerCase() : t.kind === 'string' ? "''" : t.kind === 'space' ? ' ' : t.text))
    .join('')
    .replace(/([;(),])/g, ' $1 ')
    .replace(/\s+/g, ' ')
  return WRITES_USERS.some((pattern) => pattern.test(text))
}

/** The triggers on users that are not family-sync's. */
export function foreignTriggers(triggers: readonly InstalledTrigger[]): ForeignTrigger[] {
  return triggers
    .filter((t) => t.table === 'users' && !OUR_TRIGGERS.has(t.name))
    .map((t) => ({ name: t.name, timing: t.timing, event: t.event, writesUsers: writesUsers(t.body) }))
}

/** The statement a DBA runs to remove one, the name quoted. */
export function dropForeignStatement(name: string): string {
  return `DROP TRIGGER IF EXISTS \`${name.replace(/`/g, '``')}\``
}
