import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { triggersDir } from './paths.js'
import { splitScript } from './sql/script.js'

export type StoredObjectKind = 'trigger' | 'procedure' | 'event'

export interface StoredObject {
  name: string
  kind: StoredObjectKind
}

/** The stored programs of SPEC §4, in the order migrations install them. */
export const STORED_OBJECTS: readonly StoredObject[] = [
  { name: 'inherit_parent_family_id_on_insert', kind: 'trigger' },
  { name: 'inherit_parent_family_id_on_update', kind: 'trigger' },
  { name: 'sync_children_family_id', kind: 'trigger' },
  { name: 'family_sync_drain', kind: 'procedure' },
  { name: 'family_sync_drain_every_second', kind: 'event' },
]

export const QUEUE_TABLE = 'family_sync_queue'
export const AUDIT_TABLE = 'family_sync_audit'
export const MIGRATIONS_TABLE = 'family_sync_migrations'

export function objectFile(name: string): string {
  return join(triggersDir, `${name}.sql`)
}

/** The one CREATE statement of a file in triggers/, without DELIMITER lines. */
export function createStatementOf(name: string): string {
  const statements = splitScript(readFileSync(objectFile(name), 'utf8'))
  if (statements.length !== 1) {
    throw new Error(`triggers/${name}.sql must hold exactly one statement, found ${statements.length}`)
  }
  return statements[0]
}
