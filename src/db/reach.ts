import type { Session } from '../connection/session.js'
import { enabledRoles } from './privileges.js'
import { grantLines } from './role-grants.js'

// What an account may do beyond this database. A session that runs
// family-sync's routines calls whatever stands under their names, and another
// account with rights on this database may have put its own code there (an
// SQL SECURITY INVOKER procedure runs with the caller's rights). For an account
// whose rights end at this database that gains nobody anything; for one whose
// rights reach further (root) it would hand them over. Long-running work is
// refused to the latter unless its operator says otherwise.

/** One grant line's privileges and target, from SHOW GRANTS. */
function parseGrant(line: string): { privileges: string; target: string } | null {
  const m = /^GRANT\s+(.+?)\s+ON\s+(?:(?:TABLE|PROCEDURE|FUNCTION|PACKAGE(?:\s+BODY)?)\s+)?(\S+)\s+TO\s/i.exec(line)
  return m ? { privileges: m[1], target: m[2] } : null
}

/** The schema a grant target names (`db`.*, `db`.`t`, db.*), or '*' for *.*. */
function schemaOf(target: string): string {
  const m = /^(?:`((?:[^`]|``)*)`|([^.`]+))\./.exec(target)
  if (!m) return target
  return m[1] !== undefined ? m[1].replace(/``/g, '`') : m[2]
}

/**
 * The grants that let this session act outside its database: global
 * privileges other than USAGE, and privileges on other schemas (a wildcard
 * schema grant counts: it reaches beyond this one). Its enabled roles' grants
 * count too. Empty: its rights end at this database.
 */
export async function reachBeyondDatabase(session: Session): Promise<string[]> {
  const database = await session.scalar<string>('SELECT DATABASE()')
  const roles = await enabledRoles(session)
  // MySQL expands a role's grants only with USING; MariaDB lists an enabled role's own grants after the account's.
  const lines = await grantLines(session, roles).catch(() => grantLines(session, []))
  const beyond: string[] = []
  for (const line of lines) {
    const grant = parseGrant(line)
    if (!grant) continue
    const schema = schemaOf(grant.target)
    if (schema === '*' && /^USAGE$/i.test(grant.privileges.trim())) continue
    // `app_db` matches app_db (and, strictly, appXdb: a name with an underscore is taken as this
    // database, as people mean it); a % reaches any number of databases.
    const sameDatabase = !/(^|[^\\])%/.test(schema) && schema.replace(/\\([_%])/g, '$1') === database
    if (/^PROXY$/i.test(grant.privileges.trim()) || schema === '*' || !sameDatabase) beyond.push(`${grant.privileges} ON ${grant.target}`)
  }
  return beyond
}
