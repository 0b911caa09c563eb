import { SQL_MODE } from '../defaults.js'
import { packageVersion } from '../paths.js'

/**
 * One statement as the mysql client takes it: a compound statement (a
 * trigger or procedure body) holds semicolons, so it goes between DELIMITER
 * lines, as in triggers/.
 */
export function render(statement: string): string {
  if (statement.includes(';')) return `DELIMITER $$\n${statement}$$\nDELIMITER ;`
  return `${statement};`
}

/**
 * A string as a SQL literal, for the few values family-sync writes into its
 * own statements (object names, checksums, its version, account names from
 * information_schema). Scripts set their own sql_mode first, so a backslash
 * is an escape there.
 */
export function sqlLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

/** A note in a script: every line a comment, so the script still runs. */
export function note(text: string): string {
  return text
    .split('\n')
    .map((line) => `-- ${line}`.trimEnd())
    .join('\n')
}

/**
 * The head of every script family-sync prints: what it is, and the session
 * settings the CLI uses, so the client behaves the same way.
 */
export function scriptHeader(what: string, lockWaitSeconds: number): string[] {
  return [
    note(`family-sync ${packageVersion()}: ${what}`),
    note('Run it in the application database: mysql --database=APP_DB < this-file.sql'),
    note('Stored programs keep the sql_mode they are created with: this one, whatever the server default.'),
    render(`SET SESSION sql_mode = '${SQL_MODE}'`),
    note('A statement waiting for a table lock fails after this many seconds rather than hold up the application.'),
    render(`SET SESSION lock_wait_timeout = ${lockWaitSeconds}`),
  ]
}
