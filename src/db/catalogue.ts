import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { triggersDir } from '../paths.js'
import { splitScript } from '../sql/lexer.js'
import { expectedOf, objectChecksum } from './expected.js'

export type StoredObjectKind = 'trigger' | 'procedure' | 'event'

export interface StoredObject {
  name: string
  kind: StoredObjectKind
  /**
   * The versioned migration that installs it; `migrate down` past it removes
   * it. An object added by a later version belongs to the migration of its
   * kind: on an install that has run that migration, migrate up finds it
   * missing and installs it, as any repeatable object.
   */
  migration: string
}

/** The stored programs of family-sync, in the order they are installed. */
export const STORED_OBJECTS: readonly StoredObject[] = [
  { name: 'inherit_parent_family_id_on_insert', kind: 'trigger', migration: '0003_install_triggers' },
  { name: 'inherit_parent_family_id_on_update', kind: 'trigger', migration: '0003_install_triggers' },
  { name: 'sync_children_family_id', kind: 'trigger', migration: '0003_install_triggers' },
  { name: 'sync_children_family_id_on_insert', kind: 'trigger', migration: '0003_install_triggers' },
  { name: 'family_sync_drain', kind: 'procedure', migration: '0004_install_drain_procedure' },
  { name: 'family_sync_move_children', kind: 'procedure', migration: '0004_install_drain_procedure' },
  { name: 'family_sync_status', kind: 'procedure', migration: '0004_install_drain_procedure' },
  { name: 'family_sync_drain_every_second', kind: 'event', migration: '0005_install_drain_event' },
]

export const OUR_TRIGGERS = new Set(STORED_OBJECTS.filter((o) => o.kind === 'trigger').map((o) => o.name))

/**
 * The reviewed SQL of triggers/: the single source of every stored program.
 * Files are read on first use. Tests point one at another directory to ship
 * "another version" of a body.
 */
export class Catalogue {
  private readonly statements = new Map<string, string>()

  constructor(readonly dir: string = triggersDir()) {}

  get objects(): readonly StoredObject[] {
    return STORED_OBJECTS
  }

  object(name: string): StoredObject {
    const found = STORED_OBJECTS.find((o) => o.name === name)
    if (!found) throw new Error(`not a family-sync object: ${name}`)
    return found
  }

  file(name: string): string {
    return join(this.dir, `${name}.sql`)
  }

  /** The one CREATE statement of the object's file, without DELIMITER lines. */
  createStatement(name: string): string {
    let statement = this.statements.get(name)
    if (statement === undefined) {
      const statements = splitScript(readFileSync(this.file(name), 'utf8'))
      if (statements.length !== 1) throw new Error(`triggers/${name}.sql must hold exactly one statement, found ${statements.length}`)
      statement = statements[0]
      this.statements.set(name, statement)
    }
    return statement
  }

  /** What family_sync_objects records: the body and header with comments and layout taken out. */
  checksum(name: string): string {
    return objectChecksum(expectedOf(this, this.object(name)))
  }
}

let shipped: Catalogue | undefined

/** The catalogue of the installed package's own triggers/. */
export function shippedCatalogue(): Catalogue {
  return (shipped ??= new Catalogue())
}
