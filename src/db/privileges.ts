import type { Session } from '../connection/session.js'
import type { ServerInfo } from './introspect.js'
import { enabledRolePrivileges } from './role-grants.js'

/** `user@host` as CURRENT_USER() gives it, in information_schema's GRANTEE form. */
export function granteeOf(account: string, host?: string): string {
  const at = host === undefined ? account.lastIndexOf('@') : -1
  const user = host === undefined ? account.slice(0, at) : account
  const where = host === undefined ? account.slice(at + 1) : host
  return `'${user.replace(/'/g, "''")}'@'${where.replace(/'/g, "''")}'`
}

/** `user@host` as SQL takes an account, 'user'@'host', so a printed GRANT runs as it stands when pasted. */
export function quotedAccount(account: string): string {
  const at = account.lastIndexOf('@')
  const quote = (part: string) => `'${part.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
  return at === -1 ? quote(account) : `${quote(account.slice(0, at))}@${quote(account.slice(at + 1))}`
}

/**
 * The roles this session has enabled. MariaDB lists a role's grants in
 * information_schema under 'role'@''; MySQL shows a role's rows there only
 * to accounts that may read the mysql schema, so role-grants.ts asks SHOW
 * GRANTS … USING as well.
 */
export async function enabledRoles(session: Session): Promise<Array<{ name: string; host: string }>> {
  try {
    const rows = await session.query<Record<string, string | null>>('SELECT * FROM information_schema.ENABLED_ROLES')
    return rows.flatMap((role) => {
      const name = role.ROLE_NAME ?? role.role_name
      return name ? [{ name, host: role.ROLE_HOST ?? '' }] : []
    })
  } catch {
    // A server without the view has no roles to add.
    return []
  }
}

/**
 * The privileges the session holds on this database and on users: global,
 * schema and table grants, its enabled roles' included. The wildcard forms of
 * a schema grant (`app\_db`, `app%`) are matched the way the server does.
 */
export async function readPrivileges(session: Session, currentUser: string): Promise<Set<string>> {
  const roles = await enabledRoles(session)
  const who = [granteeOf(currentUser), ...roles.map((role) => granteeOf(role.name, role.host))]
  const list = who.map(() => '?').join(', ')
  const rows = await session.query<{ p: string }>(
    `SELECT PRIVILEGE_TYPE AS p FROM information_schema.USER_PRIVILEGES WHERE GRANTEE IN (${list})
     UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE IN (${list}) AND DATABASE() LIKE TABLE_SCHEMA
     UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES
       WHERE GRANTEE IN (${list}) AND TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users'`,
    [...who, ...who, ...who],
  )
  const privileges = new Set(rows.map((row) => row.p.toUpperCase()))
  if (roles.length > 0) {
    const database = await session.scalar<string>('SELECT DATABASE()')
    for (const privilege of await enabledRolePrivileges(session, roles, database ?? '')) privileges.add(privilege)
  }
  return privileges
}

export interface Requirement {
  privilege: string
  why: string
}

/**
 * Everything `migrate up` and `migrate down` run, privilege by privilege.
 * The README's list is this list. EVENT is not here: without it the rest is
 * installed and the drain runs elsewhere (see eventWarnings).
 */
export function installRequirements(server: ServerInfo): Requirement[] {
  const list: Requirement[] = [
    { privilege: 'SELECT', why: 'to read users and family-sync tables' },
    { privilege: 'INSERT', why: 'to write the queue, the audit and the migration records' },
    { privilege: 'UPDATE', why: 'to repair children in users' },
    { privilege: 'DELETE', why: 'to remove applied queue entries' },
    { privilege: 'CREATE', why: 'to create the family_sync_* tables' },
    { privilege: 'DROP', why: 'to drop the queue on migrate down' },
    { privilege: 'ALTER', why: 'to add columns to the queue of an older install' },
    { privilege: 'TRIGGER', why: 'to create and replace the three triggers on users' },
    { privilege: 'CREATE ROUTINE', why: 'to create the family_sync_drain procedure' },
    { privilege: 'ALTER ROUTINE', why: 'to replace or drop family_sync_drain' },
    { privilege: 'EXECUTE', why: 'to run family_sync_drain' },
  ]
  if (!server.capabilities.replaceInOneStatement && !server.galera) list.push({ privilege: 'LOCK TABLES', why: 'to replace a trigger with no unguarded moment (MySQL has no CREATE OR REPLACE TRIGGER)' })
  return list
}

/**
 * Whether CREATE TRIGGER gets past error 1419 (binary logging or Galera on,
 * log_bin_trust_function_creators off). MySQL 8.0 accepts SUPER or
 * SET_USER_ID, 8.2+ SET_ANY_DEFINER; MariaDB wants SUPER.
 */
export function mayCreateTriggersWithBinlog(server: ServerInfo, privileges: Set<string>): boolean {
  if (server.trustFunctionCreators || (!server.logBin && !server.galera)) return true
  return server.capabilities.binlogTriggerPrivileges.some((p) => privileges.has(p))
}

/** Whether the account may give a stored object another definer (to keep an object's original one). */
export function maySetDefiner(server: ServerInfo, privileges: Set<string>): boolean {
  return server.capabilities.setDefinerPrivileges.some((p) => privileges.has(p))
}

/** What information_schema will show this account, and the grant that would show it more. */
export function visibility(privileges: Set<string>): { triggers: boolean; events: boolean; routines: boolean } {
  return {
    triggers: privileges.has('TRIGGER'),
    events: privileges.has('EVENT'),
    routines: ['EXECUTE', 'ALTER ROUTINE', 'CREATE ROUTINE'].some((p) => privileges.has(p)),
  }
}
