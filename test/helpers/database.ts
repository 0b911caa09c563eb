import { randomBytes } from 'node:crypto'
import knexFactory, { type Knex } from 'knex'
import { inject } from 'vitest'
import { DATABASE_PREFIX, killConnectionsOf } from './sweep.js'
import { quoteIdentifier } from '../../src/sql/identifiers.js'

export interface TestDatabase {
  name: string
  url: string
  knex: Knex
  drop(): Promise<void>
}

// Real deployments have more columns than family-sync uses, NOT NULL ones and
// ON UPDATE timestamps among them; the test schema has them too so that
// nothing here can quietly depend on the minimal shape.
export const APP_SCHEMA = [
  `CREATE TABLE families (
     id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
     name VARCHAR(100) COLLATE utf8mb4_unicode_ci NOT NULL,
     parent_user_id INT NULL,
     created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE users (
     id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
     username VARCHAR(100) COLLATE utf8mb4_unicode_ci NOT NULL,
     email VARCHAR(190) COLLATE utf8mb4_unicode_ci NOT NULL DEFAULT '',
     password_hash CHAR(60) NOT NULL DEFAULT '',
     is_parent BOOLEAN NOT NULL DEFAULT FALSE,
     parent_id INT NULL,
     family_id INT NULL,
     updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
     CONSTRAINT users_parent_fk FOREIGN KEY (parent_id) REFERENCES users (id),
     CONSTRAINT users_family_fk FOREIGN KEY (family_id) REFERENCES families (id)
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
]

export function serverUrl(): string {
  return inject('serverUrl')
}

export function serverKnex(database?: string, pool: { min: number; max: number } = { min: 0, max: 10 }): Knex {
  const url = new URL(serverUrl())
  return knexFactory({
    client: 'mysql2',
    connection: {
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username) || 'root',
      password: decodeURIComponent(url.password),
      database,
      supportBigNumbers: true,
      dateStrings: true,
    },
    pool,
  })
}

/** A name in this run's namespace, so that the run's end (or the next run) drops it whatever happens to the test. */
export function testDatabaseName(suffix = randomBytes(4).toString('hex')): string {
  return `${DATABASE_PREFIX}${inject('runId')}_${suffix}`
}

/** A fresh database with the application's tables (or none, with `schema: []`). */
export async function createTestDatabase(options: { schema?: string[]; suffix?: string } = {}): Promise<TestDatabase> {
  const name = testDatabaseName(options.suffix)
  const admin = serverKnex()
  await admin.raw(`CREATE DATABASE ${quoteIdentifier(name)}`)
  await admin.destroy()
  const knex = serverKnex(name)
  for (const ddl of options.schema ?? APP_SCHEMA) await knex.raw(ddl)
  return {
    name,
    url: `${serverUrl()}/${encodeURIComponent(name)}`,
    knex,
    // By name, on a connection of its own, after ending whatever still has a
    // transaction open in it: a test that timed out must not leave it behind.
    async drop() {
      const cleanup = serverKnex()
      try {
        await killConnectionsOf(cleanup, name)
        await cleanup.raw(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`)
      } finally {
        await cleanup.destroy()
        await knex.destroy()
      }
    },
  }
}

export async function rows<T = Record<string, unknown>>(knex: Knex, sql: string, bindings: Knex.RawBinding[] = []): Promise<T[]> {
  const [result] = (await knex.raw(sql, bindings)) as [T[]]
  return result
}

export async function familyOf(knex: Knex, id: number): Promise<number | null> {
  const [row] = await rows<{ family_id: number | null }>(knex, 'SELECT family_id FROM users WHERE id = ?', [id])
  return row.family_id
}

/** Whether the server behind this knex is MySQL (not MariaDB): a few statements and grants differ. */
export async function isMySql(knex: Knex): Promise<boolean> {
  const [[row]] = (await knex.raw('SELECT VERSION() AS v')) as [[{ v: string }]]
  return !/mariadb/i.test(row.v)
}
