import { createStatementOf, type StoredObjectKind } from '../objects.js'

const DROP_KEYWORD: Record<StoredObjectKind, string> = {
  trigger: 'TRIGGER',
  procedure: 'PROCEDURE',
  event: 'EVENT',
}

export function dropStatement(name: string, kind: StoredObjectKind): string {
  return `DROP ${DROP_KEYWORD[kind]} IF EXISTS ${name}`
}

/**
 * The statements that install (or replace) one object from triggers/.
 * A trigger is replaced under LOCK TABLES users WRITE: while the old one is
 * dropped and the new one created no other session can write to users, so
 * no write escapes every trigger (SPEC §5.8). MySQL has no CREATE OR REPLACE
 * TRIGGER, so this is the form both servers share.
 */
export function installStatements(name: string, kind: StoredObjectKind): string[] {
  const create = createStatementOf(name)
  if (kind === 'trigger') return ['LOCK TABLES users WRITE', dropStatement(name, kind), create, 'UNLOCK TABLES']
  return [dropStatement(name, kind), create]
}
