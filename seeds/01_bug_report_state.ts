import type { Knex } from 'knex'

// The state of the bug report (../shared/seed): parent asela (id 2) created the
// family Sela (id 1); only asela's family_id was set, so Makoto (3) and Eli (4)
// kept family_id NULL. It replays what the application did, so with family-sync
// installed the same steps queue the children instead of losing them.

const APP_TABLES = [
  `CREATE TABLE IF NOT EXISTS families (
     id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
     name VARCHAR(100) NOT NULL
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE IF NOT EXISTS users (
     id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
     username VARCHAR(100) NOT NULL,
     is_parent BOOLEAN NOT NULL DEFAULT FALSE,
     parent_id INT NULL,
     family_id INT NULL,
     CONSTRAINT users_parent_fk FOREIGN KEY (parent_id) REFERENCES users (id),
     CONSTRAINT users_family_fk FOREIGN KEY (family_id) REFERENCES families (id)
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
]

const PEOPLE = [
  { id: 2, username: 'asela', is_parent: true, parent_id: null },
  { id: 3, username: 'Makoto', is_parent: false, parent_id: 2 },
  { id: 4, username: 'Eli', is_parent: false, parent_id: 2 },
]

export async function seed(knex: Knex): Promise<void> {
  for (const ddl of APP_TABLES) await knex.raw(ddl)
  const taken = await knex('users').whereIn('id', PEOPLE.map((p) => p.id)).select('id', 'username')
  const strangers = taken.filter((row) => !PEOPLE.some((p) => p.id === row.id && p.username === row.username))
  if (strangers.length > 0) {
    throw new Error(`seed: users ${strangers.map((s) => `${s.id} (${s.username})`).join(', ')} already exist; seed an empty database`)
  }
  await knex('users').whereIn('id', [3, 4]).del()
  await knex('users').where('id', 2).del()
  await knex('families').where({ id: 1, name: 'Sela' }).del()

  // Before family creation: nobody has a family.
  await knex('users').insert(PEOPLE.map((p) => ({ ...p, family_id: null })))
  // The buggy family creation: the family, then the parent's family_id only.
  await knex('families').insert({ id: 1, name: 'Sela' })
  await knex('users').where('id', 2).update({ family_id: 1 })
}
