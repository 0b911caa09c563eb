import type { Knex } from 'knex'

/**
 * Set-based fill: `parents` parents, each with its own family, and
 * `childrenPerParent` children each; every other child has family_id NULL
 * (the bug). Ids: parents 1..parents, children after them.
 */
export async function populate(knex: Knex, parents: number, childrenPerParent: number): Promise<void> {
  await knex.raw('SET SESSION cte_max_recursion_depth = 10000000').catch(() => {})
  await knex.raw('SET SESSION max_recursive_iterations = 10000000').catch(() => {})
  await knex.raw(
    `INSERT INTO families (id, name)
     WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
     SELECT n, CONCAT('family ', n) FROM seq`,
    [parents],
  )
  await knex.raw(
    `INSERT INTO users (id, username, is_parent, family_id)
     WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
     SELECT n, CONCAT('parent ', n), TRUE, n FROM seq`,
    [parents],
  )
  await knex.raw(
    `INSERT INTO users (id, username, is_parent, parent_id, family_id)
     WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
     SELECT ? + n, CONCAT('child ', n), FALSE, (n % ?) + 1, IF(n % 2 = 0, (n % ?) + 1, NULL) FROM seq`,
    [parents * childrenPerParent, parents, parents, parents],
  )
}
