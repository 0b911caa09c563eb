import { migrations } from '../../migrations/index.js'
import { createContext } from '../migrator/context.js'
import { MIGRATIONS_TABLE_DDL } from '../migrator/storage.js'
import { MIGRATIONS_TABLE } from '../objects.js'
import { packageVersion } from '../paths.js'

// A compound statement (a trigger or procedure body) holds semicolons, so the
// mysql client needs another delimiter around it, as in triggers/.
export function render(statement: string): string {
  if (statement.startsWith('--')) return statement
  if (statement.includes(';')) return `DELIMITER $$\n${statement}$$\nDELIMITER ;`
  return `${statement};`
}

/**
 * Every statement `migrate up` runs on an empty installation, as a script the
 * mysql/mariadb client runs as it stands. It records each migration the way
 * the CLI does, so a later `migrate up` sees the work as done.
 */
export async function installScript(): Promise<string> {
  const parts: string[] = [
    `-- family-sync ${packageVersion()}: the statements of \`family-sync migrate up\`, for review or for the mysql client`,
    '-- Run it in the application database: mysql --database=APP_DB < this-file.sql',
  ]
  for (const migration of migrations) {
    const ctx = createContext('script', undefined)
    await migration.up(ctx)
    parts.push('', `-- migration ${migration.name}`, ...ctx.recorded.map(render))
    parts.push(render(MIGRATIONS_TABLE_DDL), render(`INSERT IGNORE INTO ${MIGRATIONS_TABLE} (name) VALUES ('${migration.name}')`))
  }
  return parts.join('\n') + '\n'
}
