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

/**
 * Ends the runs of the drain event under way or waiting (they hold, or wait
 * for, this lock from before their CALL to after it), so that a test that
 * dropped or disabled the event sees no drain from here on. A run looks for
 * work for 10.5 s: waiting for it would slow every test; killing it rolls back
 * nothing but its own transaction, whose entry is taken again later.
 */
export async function eventRunEnded(knex: Knex): Promise<void> {
  await knex.transaction(async (trx) => {
    for (let free = 0, tries = 0; free < 3; tries++) {
      if (tries > 200) throw new Error('runs of the drain event kept taking its lock')
      const [[{ holder, self }]] = (await trx.raw(`SELECT IS_USED_LOCK(${EVENT_LOCK_SQL}) AS holder, CONNECTION_ID() AS self`)) as [[{ holder: number | null; self: number }]]
      if (holder === null || Number(holder) === Number(self)) free++
      else {
        free = 0
        await trx.raw(`KILL ${Number(holder)}`).catch(() => {})
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
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
      // A run under way (or waiting) is ended rather than waited for: it would look for work for 10.5 s.
      for (let tries = 0; ; tries++) {
        const [[{ got }]] = (await trx.raw(`SELECT GET_LOCK(${EVENT_LOCK_SQL}, 0.2) AS got`)) as [[{ got: number }]]
        if (Number(got) === 1) break
        if (tries > 100) throw new Error('runs of the drain event kept taking its lock')
        const [[{ holder: running }]] = (await trx.raw(`SELECT IS_USED_LOCK(${EVENT_LOCK_SQL}) AS holder`)) as [[{ holder: number | null }]]
        if (running !== null) await trx.raw(`KILL ${Number(running)}`).catch(() => {})
      }
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
