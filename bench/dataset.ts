import type { Knex } from 'knex'
import { shippedCatalogue, STORED_OBJECTS } from '../src/db/catalogue.js'
import { createMigrator } from '../src/migrator/create-migrator.js'
import { APP_SCHEMA } from '../test/helpers/database.js'
import { connect, log } from './context.js'
import { fmtMs, timed } from './measure.js'

export const TRIGGERS = STORED_OBJECTS.filter((o) => o.kind === 'trigger')

export interface Shape {
  users: number
  parents: number
  children: number
  /** Users ids are n * stride: 1 for dense ids, a large stride spreads the same rows over 2^62. */
  stride: bigint
}

/** N users: a fifth parents with families, the rest children, every other child mismatched. */
export function shapeOf(users: number, stride = 1n): Shape {
  const parents = Math.max(1, Math.floor(users / 5))
  return { users: parents * 5, parents, children: parents * 4, stride }
}

const BIGINT_SCHEMA = [APP_SCHEMA[0], APP_SCHEMA[1].replace('id INT NOT NULL AUTO_INCREMENT', 'id BIGINT NOT NULL AUTO_INCREMENT').replace('parent_id INT NULL', 'parent_id BIGINT NULL')]

/**
 * Parents 1..P (each its own family), children after them, child n under
 * parent (n % P) + 1, every other child's family NULL (the bug). Ids are
 * n * stride. Set-based, in chunks the server's recursion limit allows.
 */
export async function build(knex: Knex, shape: Shape): Promise<void> {
  for (const ddl of BIGINT_SCHEMA) await knex.raw(ddl)
  const s = shape.stride.toString()
  const P = shape.parents
  await knex.transaction(async (trx) => {
    await trx.raw('SET SESSION max_recursive_iterations = 100000000').catch(() => {})
    await trx.raw('SET SESSION cte_max_recursion_depth = 100000000').catch(() => {})
    const seq = (n: number) => `WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ${n})`
    await trx.raw(`INSERT INTO families (id, name) ${seq(P)} SELECT n, CONCAT('family ', n) FROM seq`)
    await trx.raw(`INSERT INTO users (id, username, is_parent, family_id) ${seq(P)} SELECT n * ${s}, CONCAT('parent ', n), TRUE, n FROM seq`)
    await trx.raw(
      `INSERT INTO users (id, username, is_parent, parent_id, family_id) ${seq(shape.children)}
       SELECT (${P} + n) * ${s}, CONCAT('child ', n), FALSE, ((n % ${P}) + 1) * ${s}, IF(n % 2 = 0, (n % ${P}) + 1, NULL) FROM seq`,
    )
  })
}

export async function freshDatabase(name: string, shape: Shape): Promise<Knex> {
  const admin = connect()
  await admin.raw('DROP DATABASE IF EXISTS ??', [name])
  await admin.raw('CREATE DATABASE ??', [name])
  await admin.destroy()
  const knex = connect(name)
  const { ms } = await timed(() => build(knex, shape))
  log(`${name}: built ${shape.users} users in ${fmtMs(ms)}`)
  await createMigrator(knex).up()
  await knex.raw('DROP EVENT IF EXISTS family_sync_drain_every_second')
  return knex
}

export async function dropDatabase(knex: Knex, name: string): Promise<void> {
  await knex.raw('DROP DATABASE IF EXISTS ??', [name])
  await knex.destroy()
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
export async function resetMismatches(knex: Knex, shape: Shape, options: { triggers?: boolean } = { triggers: true }): Promise<void> {
  await dropTriggers(knex)
  const P = shape.parents
  const s = shape.stride.toString()
  await knex.raw(`UPDATE users SET family_id = IF((id DIV ${s} - ${P}) % 2 = 0, ((id DIV ${s} - ${P}) % ${P}) + 1, NULL) WHERE id > ${P} * ${s}`)
  await knex.raw('DELETE FROM family_sync_audit')
  await knex.raw('DELETE FROM family_sync_queue')
  if (options.triggers !== false) await installTriggers(knex)
}
