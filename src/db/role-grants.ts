import type { Session } from '../connection/session.js'

// Privileges that ALL [PRIVILEGES] stands for, as far as family-sync asks.
const ALL = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'INDEX', 'TRIGGER', 'EVENT', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EXECUTE', 'LOCK TABLES', 'REFERENCES', 'CREATE VIEW', 'SHOW VIEW', 'CREATE TEMPORARY TABLES']

function unquote(part: string): string {
  const quoted = /^[`'"](.*)[`'"]$/s.exec(part)
  return quoted ? quoted[1].replace(/``/g, '`') : part
}

const literal = (c: string) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// A schema grant's name matches the way the server matches it: _ and % are
// wildcards unless escaped with a backslash.
function schemaMatches(pattern: string, database: string): boolean {
  let regex = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\' && i + 1 < pattern.length) regex += literal(pattern[++i])
    else if (c === '%') regex += '.*'
    else if (c === '_') regex += '.'
    else regex += literal(c)
  }
  return new RegExp(`^${regex}$`, 's').test(database)
}

/**
 * The privileges SHOW GRANTS lines give on this database and its users table:
 * global (`*.*`), schema (`db`.*, wildcards matched) and table grants. Column
 * lists, GRANT OPTION and role grants (GRANT `role` TO …) add nothing here.
 */
export function privilegesFromGrants(lines: string[], database: string): Set<string> {
  const found = new Set<string>()
  for (const line of lines) {
    const match = /^GRANT\s+(.+?)\s+ON\s+(?:TABLE\s+)?((?:`(?:[^`]|``)*`|\*|[\w$]+))\.((?:`(?:[^`]|``)*`|\*|[\w$]+))\s+TO\s/is.exec(line.trim())
    if (!match) continue
    const [, list, schemaPart, tablePart] = match
    const schema = unquote(schemaPart)
    const table = unquote(tablePart)
    const applies = schema === '*' ? table === '*' : schemaMatches(schema, database) && (table === '*' || table.toLowerCase() === 'users')
    if (!applies) continue
    // A privilege on some columns only ("UPDATE (family_id)") is not one on the table.
    const privileges = list
      .replace(/\w[\w ]*?\s*\([^)]*\)/g, '')
      .split(',')
      .map((p) => p.trim().toUpperCase().replace(/\s+/g, ' '))
    for (const privilege of privileges) {
      if (privilege === 'ALL' || privilege === 'ALL PRIVILEGES') ALL.forEach((p) => found.add(p))
      else if (privilege !== '') found.add(privilege)
    }
  }
  return found
}

/**
 * On MySQL, information_schema's privilege views show only the session's own
 * account's rows, not its roles', unless it may read the mysql schema: the
 * privileges of the session's enabled roles come from SHOW GRANTS … USING.
 * Empty when the server has no roles enabled, or no such statement (MariaDB
 * lists its roles' grants in information_schema under 'role'@'').
 */
export async function enabledRolePrivileges(session: Session, roles: Array<{ name: string; host: string }>, database: string): Promise<Set<string>> {
  if (roles.length === 0) return new Set()
  try {
    return privilegesFromGrants(await grantLines(session, roles), database)
  } catch {
    return new Set()
  }
}

/**
 * The session's SHOW GRANTS lines. With `roles`, their grants expanded (USING:
 * MySQL lists them only so); without, plain SHOW GRANTS, which on MariaDB
 * includes the current role's.
 */
export async function grantLines(session: Session, roles: Array<{ name: string; host: string }>): Promise<string[]> {
  const sql = roles.length > 0 ? `SHOW GRANTS FOR CURRENT_USER() USING ${roles.map(() => '?@?').join(', ')}` : 'SHOW GRANTS'
  const rows = await session.query<Record<string, string>>(sql, roles.flatMap((r) => [r.name, r.host]))
  return rows.map((row) => String(Object.values(row)[0] ?? ''))
}
