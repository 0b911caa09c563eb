import type { Knex } from 'knex'

export interface ServerInfo {
  flavour: 'MariaDB' | 'MySQL'
  version: string
  major: number
  minor: number
  database: string
  currentUser: string
  logBin: boolean
  trustFunctionCreators: boolean
  eventScheduler: 'ON' | 'OFF' | 'DISABLED'
}

export async function readServerInfo(knex: Knex): Promise<ServerInfo> {
  const [rows] = (await knex.raw(
    `SELECT VERSION() AS version, DATABASE() AS db, CURRENT_USER() AS user,
            @@global.log_bin AS log_bin, @@global.log_bin_trust_function_creators AS trust,
            @@global.event_scheduler AS scheduler`,
  )) as [Array<{ version: string; db: string; user: string; log_bin: number | string; trust: number | string; scheduler: string }>]
  const row = rows[0]
  const [major, minor] = row.version.split(/[.-]/).map(Number)
  const scheduler = String(row.scheduler).toUpperCase()
  return {
    flavour: /mariadb/i.test(row.version) ? 'MariaDB' : 'MySQL',
    version: row.version,
    major,
    minor,
    database: row.db,
    currentUser: row.user,
    logBin: isOn(row.log_bin),
    trustFunctionCreators: isOn(row.trust),
    eventScheduler: scheduler === 'ON' || scheduler === '1' ? 'ON' : scheduler === 'DISABLED' ? 'DISABLED' : 'OFF',
  }
}

function isOn(value: number | string): boolean {
  return value === 1 || value === '1' || String(value).toUpperCase() === 'ON'
}

/** `user@host` as CURRENT_USER() gives it, in information_schema's GRANTEE form. */
export function granteeOf(currentUser: string): string {
  const at = currentUser.lastIndexOf('@')
  const user = currentUser.slice(0, at)
  const host = currentUser.slice(at + 1)
  return `'${user.replace(/'/g, "''")}'@'${host}'`
}

/**
 * The privileges the current account holds on this database and on users,
 * from information_schema (global, schema and table grants).
 */
export async function readPrivileges(knex: Knex, currentUser: string): Promise<Set<string>> {
  const grantee = granteeOf(currentUser)
  const [rows] = (await knex.raw(
    `SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?
     UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES
       WHERE GRANTEE = ? AND DATABASE() LIKE TABLE_SCHEMA
     UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES
       WHERE GRANTEE = ? AND TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'`,
    [grantee, grantee, grantee],
  )) as [Array<{ p: string }>]
  return new Set(rows.map((row) => row.p.toUpperCase()))
}
