import { FamilySyncError } from '../errors.js'

/**
 * Quotes a MySQL identifier (database or table name) after checking it is one
 * the server would accept. Values never go through here: they are bound.
 */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.length > 64 || name.includes('\u0000') || /\s$/.test(name)) {
    throw new FamilySyncError(`invalid identifier '${name}': names are 1 to 64 characters, with no NUL and no trailing space`)
  }
  return '`' + name.replace(/`/g, '``') + '`'
}
