import type { Session } from '../connection/session.js'
import { columnsOf } from './introspect.js'

export type ColumnList = ReadonlyArray<[name: string, definition: string]>

/** The columns of `columns` that `table` lacks: an install made by an earlier version gets them added. */
export async function missingColumns(session: Session, table: string, columns: ColumnList): Promise<Array<[string, string]>> {
  const present = await columnsOf(session, [table])
  return columns.filter(([name]) => !present.has(`${table}.${name}`))
}

export function addColumnsStatement(table: string, columns: ColumnList): string {
  return `ALTER TABLE ${table} ${columns.map(([name, definition]) => `ADD COLUMN ${name} ${definition}`).join(', ')}`
}
