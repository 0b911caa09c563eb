import type { Knex } from 'knex'
import { createMigrator } from '../../src/migrator/create-migrator.js'
import { drainSyncQueue } from '../../src/library.js'
import type { MigratorOptions } from '../../src/migrator/migrator.js'
import { rows } from './database.js'

/**
 * Runs every migration in-process. Without `keepEvent` the drain event is
 * dropped again: the event scheduler is global, and a test that turns it on
 * must not drain the queues other test files are looking at (on MySQL the
 * scheduler is ON by default, so this matters there all the time).
 */
export async function install(knex: Knex, options: { keepEvent?: boolean } & MigratorOptions = {}): Promise<void> {
  const { keepEvent, ...migratorOptions } = options
  await createMigrator(knex, { lockTimeoutSeconds: 60, ...migratorOptions }).up()
  if (!keepEvent) await knex.raw('DROP EVENT IF EXISTS family_sync_drain_every_second')
}

export async function drain(knex: Knex): Promise<number> {
  return (await drainSyncQueue(knex)).applied
}

export async function queueLength(knex: Knex): Promise<number> {
  const [rows] = (await knex.raw('SELECT COUNT(*) AS n FROM family_sync_queue')) as [Array<{ n: number }>]
  return Number(rows[0].n)
}

/** Every table, trigger, routine and event of family-sync in the database, by name. */
export async function ourObjects(knex: Knex): Promise<Array<{ name: string }>> {
  return rows<{ name: string }>(
    knex,
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'family\\_sync%'
     UNION ALL SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
     UNION ALL SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
     UNION ALL SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()`,
  )
}
