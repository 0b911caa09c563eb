import type { Knex } from 'knex'

/**
 * Set-based fill: `parents` parents, each with its own family, and
 * `childrenPerParent` children each; every other child has family_id NULL
 * (the bug). Ids: parents 1..parents, children after them. One connection
 * throughout: the recursion limits it raises are session variables (MySQL's
 * cte_max_recursion_depth and MariaDB's max_recursive_iterations both stop at
 * 1,000 by default).
 */
export async function populate(knex: Knex, parents: number, childrenPerParent: number): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw('SET SESSION cte_max_recursion_depth = 10000000').catch(() => {})
    await trx.raw('SET SESSION max_recursive_iterations = 10000000').catch(() => {})
    const seq = 'WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)'
    await trx.raw(`INSERT INTO families (id, name) ${seq} SELECT n, CONCAT('family ', n) FROM seq`, [parents])
    await trx.raw(`INSERT INTO users (id, username, is_parent, family_id) ${seq} SELECT n, CONCAT('parent ', n), TRUE, n FROM seq`, [parents])
    await trx.raw(
      `INSERT INTO users (id, username, is_parent, parent_id, family_id) ${seq}
       SELECT ? + n, CONCAT('child ', n), FALSE, (n % ?) + 1, IF(n % 2 = 0, (n % ?) + 1, NULL) FROM seq`,
      [parents * childrenPerParent, parents, parents, parents],
    )
  })
}
