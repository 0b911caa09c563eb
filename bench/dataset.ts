import type { Knex } from 'knex'
import { shippedCatalogue, STORED_OBJECTS } from '../src/db/catalogue.js'
import { populate } from '../test/helpers/populate.js'
import { APP_SCHEMA } from '../test/helpers/database.js'

export const TRIGGERS = STORED_OBJECTS.filter((o) => o.kind === 'trigger')

export interface Shape {
  users: number
  parents: number
  children: number
}

/** N users: a fifth parents with families, the rest children, every other child mismatched. */
export function shapeOf(users: number): Shape {
  const parents = Math.max(1, Math.floor(users / 5))
  return { users: parents * 5, parents, children: parents * 4 }
}

export async function build(knex: Knex, shape: Shape): Promise<void> {
  for (const ddl of APP_SCHEMA) await knex.raw(ddl)
  await populate(knex, shape.parents, 4)
}

export async function dropTriggers(knex: Knex): Promise<void> {
  for (const t of TRIGGERS) await knex.raw(`DROP TRIGGER IF EXISTS ${t.name}`)
}

/** The triggers of triggers/, as migrate up installs them on an empty table. */
export async function installTriggers(knex: Knex): Promise<void> {
  await dropTriggers(knex)
  for (const t of TRIGGERS) await knex.raw(shippedCatalogue().createStatement(t.name))
}

/** Puts back the mismatches `build` made (every other child NULL), with the triggers out of the way. */
export async function resetMismatches(knex: Knex, shape: Shape): Promise<void> {
  await dropTriggers(knex)
  const p = shape.parents
  await knex.raw(`UPDATE users SET family_id = IF((id - ${p}) % 2 = 0, ((id - ${p}) % ${p}) + 1, NULL) WHERE id > ${p} AND id <= ${p * 5}`)
  await knex.raw('DELETE FROM family_sync_audit')
  await knex.raw('DELETE FROM family_sync_queue')
  await installTriggers(knex)
}
