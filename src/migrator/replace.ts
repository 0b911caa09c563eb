import type { Session } from '../connection/session.js'
import type { Catalogue, StoredObject, StoredObjectKind } from '../db/catalogue.js'
import { dropForeignStatement } from '../db/foreign-triggers.js'
import type { ServerInfo } from '../db/introspect.js'

/**
 * How an object is put in place:
 * - create: nothing there yet.
 * - create-or-replace: MariaDB replaces it in one atomic statement, so no
 *   write to users ever finds the trigger missing.
 * - lock-tables: MySQL has no CREATE OR REPLACE TRIGGER; under LOCK TABLES
 *   users WRITE nobody writes users between the DROP and the CREATE.
 * - drop-create: procedures and events on MySQL (nothing writes through them
 *   meanwhile), and triggers on Galera clusters of MySQL, where LOCK TABLES
 *   deadlocks with the cluster's ordering of DDL.
 */
export type Strategy = 'create' | 'create-or-replace' | 'lock-tables' | 'drop-create'

export function strategyFor(server: ServerInfo | undefined, kind: StoredObjectKind, exists: boolean): Strategy {
  if (!exists || !server) return 'create'
  if (server.capabilities.replaceInOneStatement) return 'create-or-replace'
  return kind === 'trigger' && !server.galera ? 'lock-tables' : 'drop-create'
}

const KEYWORD: Record<StoredObjectKind, string> = { trigger: 'TRIGGER', procedure: 'PROCEDURE', event: 'EVENT' }

/** `user@host` as a DEFINER clause, each part quoted as an identifier. */
export function definerClause(definer: string): string {
  const at = definer.lastIndexOf('@')
  const quote = (part: string) => '`' + part.replace(/`/g, '``') + '`'
  return `DEFINER = ${quote(definer.slice(0, at))}@${quote(definer.slice(at + 1))}`
}

export function dropStatement(object: Pick<StoredObject, 'name' | 'kind'>): string {
  return `DROP ${KEYWORD[object.kind]} IF EXISTS ${object.name}`
}

function createStatement(catalogue: Catalogue, object: StoredObject, orReplace: boolean, definer: string | undefined): string {
  const head = `CREATE ${orReplace ? 'OR REPLACE ' : ''}${definer ? definerClause(definer) + ' ' : ''}`
  return catalogue.createStatement(object.name).replace(/^CREATE\s+/i, head)
}

export interface InstallPlan {
  strategy: Strategy
  statements: string[]
}

/**
 * The statements that put `object` in place. `definer` keeps an existing
 * object's owner; `dropForeign` are triggers on users to remove in the same
 * step (inside the lock, on MySQL).
 */
export function installPlan(catalogue: Catalogue, object: StoredObject, strategy: Strategy, definer?: string, dropForeign: string[] = []): InstallPlan {
  const drops = dropForeign.map(dropForeignStatement)
  switch (strategy) {
    case 'create':
      return { strategy, statements: [createStatement(catalogue, object, false, definer), ...drops] }
    case 'create-or-replace':
      return { strategy, statements: [createStatement(catalogue, object, true, definer), ...drops] }
    case 'lock-tables':
      return { strategy, statements: ['LOCK TABLES users WRITE', ...drops, dropStatement(object), createStatement(catalogue, object, false, definer), 'UNLOCK TABLES'] }
    case 'drop-create':
      return { strategy, statements: [...drops, dropStatement(object), createStatement(catalogue, object, false, definer)] }
  }
}

/** Re-enables an event, keeping its definer (a plain ALTER EVENT would make the caller its definer). */
export function enableStatement(object: StoredObject, definer: string | undefined): string {
  return `ALTER ${definer ? definerClause(definer) + ' ' : ''}EVENT ${object.name} ENABLE`
}

/**
 * The trigger as it stands, to put back if its replacement fails while
 * users is locked: `users` is then never left without it.
 */
export async function currentTriggerDefinition(session: Session, name: string): Promise<{ sql: string; sqlMode: string } | null> {
  try {
    const [row] = await session.query<Record<string, string>>(`SHOW CREATE TRIGGER \`${name.replace(/`/g, '``')}\``)
    return row ? { sql: row['SQL Original Statement'], sqlMode: row.sql_mode } : null
  } catch {
    return null
  }
}
