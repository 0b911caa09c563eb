import type { Knex } from 'knex'
import { createMigrator } from '../../src/migrator/create-migrator.js'
import { drainSyncQueue } from '../../src/library.js'
import type { MigratorOptions } from '../../src/migrator/migrator.js'
import { EVENT_LOCK_SQL } from '../../src/db/liveness.js'
import { rows, serverKnex } from './database.js'

/**
 * Runs every migration in-process. Without `keepEvent` the drain event is
 * dropped again, and a run of it already under way is waited for: tests
 * that look at the queue must see it as they left it, on MySQL (scheduler ON
 * by default) as on MariaDB.
 */
export async function install(knex: Knex, options: { keepEvent?: boolean } & MigratorOptions = {}): Promise<void> {
  const { keepEvent, ...migratorOptions } = options
  await createMigrator(knex, { lockTimeoutSeconds: 60, ...migratorOptions }).up()
  if (!keepEvent) {
    await knex.raw('DROP EVENT IF EXISTS family_sync_drain_every_second')
    await eventRunEnded(knex)
  }
}

/** Waits for a run of the drain event under way (it holds this lock from before its CALL to after it) to end. */
export async function eventRunEnded(knex: Knex): Promise<void> {
  await knex.transaction(async (trx) => {
    const [[{ got }]] = (await trx.raw(`SELECT GET_LOCK(${EVENT_LOCK_SQL}, 30) AS got`)) as [[{ got: number }]]
    if (Number(got) !== 1) throw new Error('a run of the drain event did not end within 30 s')
    await trx.raw(`DO RELEASE_LOCK(${EVENT_LOCK_SQL})`)
  })
}

/**
 * Keeps the drain event of this database from running (its guard takes this
 * lock first and skips the run when another session holds it), the event
 * itself left as migrate up made it: for tests of an installation made
 * through the CLI that look at the queue, with the scheduler ON or OFF.
 * check sees the lock as a drain running. Resolves once no run is under way.
 */
export async function holdDrainEvent(database: string): Promise<() => Promise<void>> {
  const holder = serverKnex(database, { min: 1, max: 1 })
  try {
    await holder.transaction(async (trx) => {
      const [[{ got }]] = (await trx.raw(`SELECT GET_LOCK(${EVENT_LOCK_SQL}, 30) AS got`)) as [[{ got: number }]]
      if (Number(got) !== 1) throw new Error('a run of the drain event did not end within 30 s')
    })
  } catch (error) {
    await holder.destroy()
    throw error
  }
  // The pool's one connection keeps the lock until it closes.
  return () => holder.destroy()
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
