/**
 * Everything family-sync does differently from one server to another, named
 * once, from the server's version string. Code elsewhere asks what the
 * server can do (`capabilities.replaceInOneStatement`), never which server it
 * is; a new server line (or another engine) is a new profile here.
 */
export interface Capabilities {
  /** The engine's name, for messages. */
  engine: 'MariaDB' | 'MySQL'
  /** SKIP LOCKED, recursive CTEs and the information_schema views family-sync reads: MariaDB 10.6+, MySQL 8.0+. */
  supported: boolean
  /** The oldest release of this engine that is supported, for the message when it is not. */
  oldestSupported: string
  /**
   * CREATE OR REPLACE for triggers, procedures and events: a trigger is
   * replaced in one atomic statement, with no moment in which users has none.
   * MySQL lacks it (DROP and CREATE under LOCK TABLES users WRITE instead).
   */
  replaceInOneStatement: boolean
  /** Privileges that let CREATE TRIGGER past error 1419 while binary logging is on and log_bin_trust_function_creators off. */
  binlogTriggerPrivileges: string[]
  /** The same, as the GRANT advice names them. */
  binlogTriggerGrant: string
  /** Privileges that let an account create a stored object for another definer. */
  setDefinerPrivileges: string[]
  /** The same, as the advice names them. */
  setDefinerGrant: string
  /**
   * What a recursive query is prefixed with to lift the server's limit of
   * 1,000 levels for that statement alone (MariaDB's max_recursive_iterations);
   * MySQL's cte_max_recursion_depth is lifted by a SET_VAR hint in the
   * statement itself, which MariaDB reads as a comment.
   */
  recursionLift: string
  /**
   * The session variable that, set to 0, makes information_schema.TABLES read
   * a table's live figures (AUTO_INCREMENT): MySQL 8+ serves them from a cache
   * kept for a day by default. MariaDB reads them live (undefined).
   */
  tableStatisticsExpiry: string | undefined
}

const MARIADB = /mariadb/i

/** The profile of the server whose VERSION() this is. */
export function capabilitiesOf(version: string): Capabilities {
  const [major, minor] = version.split(/[.-]/).map(Number)
  if (MARIADB.test(version)) {
    return {
      engine: 'MariaDB',
      supported: major > 10 || (major === 10 && minor >= 6),
      oldestSupported: '10.6',
      replaceInOneStatement: true,
      binlogTriggerPrivileges: ['SUPER'],
      binlogTriggerGrant: 'SUPER',
      setDefinerPrivileges: ['SUPER', 'SET USER'],
      setDefinerGrant: 'SUPER or SET USER',
      recursionLift: 'SET STATEMENT max_recursive_iterations = 4294967295 FOR ',
      tableStatisticsExpiry: undefined,
    }
  }
  // 8.2 replaced SET_USER_ID with SET_ANY_DEFINER, which lets an account name
  // another definer but not past error 1419: 9.7 wants SUPER for that (seen
  // running it; 8.0's SET_USER_ID is from reading its source).
  const before82 = major < 8 || (major === 8 && minor < 2)
  return {
    engine: 'MySQL',
    supported: major >= 8,
    oldestSupported: '8.0',
    replaceInOneStatement: false,
    binlogTriggerPrivileges: before82 ? ['SUPER', 'SET_USER_ID'] : ['SUPER'],
    binlogTriggerGrant: before82 ? 'SUPER or SET_USER_ID' : 'SUPER',
    setDefinerPrivileges: ['SUPER', 'SET_USER_ID', 'SET_ANY_DEFINER'],
    setDefinerGrant: 'SET_ANY_DEFINER (8.2+) or SET_USER_ID (8.0)',
    recursionLift: '',
    tableStatisticsExpiry: 'information_schema_stats_expiry',
  }
}
