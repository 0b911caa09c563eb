import type { Knex } from 'knex'
import { rows } from './database.js'

/** The bug report's people: asela (2) with children Makoto (3) and Eli (4). */
export async function insertBugReportPeople(knex: Knex): Promise<void> {
  await knex.raw("INSERT INTO users (id, username, is_parent) VALUES (2, 'asela', TRUE)")
  await knex.raw("INSERT INTO users (id, username, parent_id) VALUES (3, 'Makoto', 2), (4, 'Eli', 2)")
}

/** The application's buggy family creation: the family, then only the parent's family_id. */
export async function createFamily(knex: Knex, parentId: number, name: string, id?: number): Promise<number> {
  const [result] = (await knex.raw('INSERT INTO families (id, name, parent_user_id) VALUES (?, ?, ?)', [id ?? null, name, parentId])) as [{ insertId: number }]
  await knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [result.insertId, parentId])
  return result.insertId
}

export async function mismatchCount(knex: Knex): Promise<number> {
  const [row] = await rows<{ n: number }>(
    knex,
    `SELECT COUNT(*) AS n FROM users c JOIN users p ON c.parent_id = p.id
     WHERE (c.family_id IS NULL OR c.family_id != p.family_id) AND p.family_id IS NOT NULL`,
  )
  return Number(row.n)
}

/**
 * Runs `sql` with the repair's bypass on its own connection, so the triggers
 * let it make a mismatch they would otherwise stop: how tests get work to repair.
 */
export async function updateBypassingTriggers(knex: Knex, sql: string): Promise<void> {
  const connection = await knex.client.acquireConnection()
  try {
    await knex.raw('SET @family_sync_repairing = CONNECTION_ID()').connection(connection)
    await knex.raw(sql).connection(connection)
  } finally {
    await knex.raw('SET @family_sync_repairing = NULL').connection(connection)
    await knex.client.releaseConnection(connection)
  }
}
