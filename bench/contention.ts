import type { Knex } from 'knex'
import { createMigrator } from '../src/migrator/create-migrator.js'
import { APP_SCHEMA } from '../test/helpers/database.js'
import { eventRunEnded } from '../test/helpers/install.js'
import { connect, log, RUNS } from './context.js'
import { median, type Figure } from './measure.js'

// The application under contention, with and without family-sync, in the
// same run: three writers on a small, hot set of families (30 parents with 4
// children each), doing what the bug report's application does: parents
// change family, children are updated (another column, or their family_id),
// and two-statement transactions touch a child and its parent in either
// order. Writers never retry: every deadlock or lock wait timeout is an
// error the application would see.

const PARENTS = 30
const CHILDREN = 4
const WRITERS = 3
const SECONDS = Number(process.env.BENCH_CONTENTION_SECONDS ?? 20)
const DATABASE = 'family_sync_bench_contention'

type Setup = 'without family-sync' | 'with family-sync, no drain running' | 'with family-sync, event ON'

interface Outcome {
  writes: number
  deadlocks: number
  lockWaitTimeouts: number
  otherErrors: string[]
}

async function prepare(setup: Setup): Promise<Knex> {
  const admin = connect()
  await admin.raw('DROP DATABASE IF EXISTS ??', [DATABASE])
  await admin.raw('CREATE DATABASE ??', [DATABASE])
  await admin.destroy()
  const knex = connect(DATABASE, WRITERS + 2)
  for (const ddl of APP_SCHEMA) await knex.raw(ddl)
  await knex.raw(`INSERT INTO families (id, name) VALUES ${Array.from({ length: PARENTS * 2 }, (_, i) => `(${i + 1}, 'f')`).join(', ')}`)
  await knex.raw(`INSERT INTO users (id, username, family_id) VALUES ${Array.from({ length: PARENTS }, (_, i) => `(${i + 1}, 'p', ${i + 1})`).join(', ')}`)
  await knex.raw(
    `INSERT INTO users (id, username, parent_id, family_id) VALUES ${Array.from({ length: PARENTS * CHILDREN }, (_, i) => `(${1000 + i}, 'c', ${(i % PARENTS) + 1}, ${(i % PARENTS) + 1})`).join(', ')}`,
  )
  if (setup !== 'without family-sync') {
    await createMigrator(knex).up()
    if (setup === 'with family-sync, no drain running') {
      // The run the event started on creation keeps draining while work keeps coming: end it too.
      await knex.raw('ALTER EVENT family_sync_drain_every_second DISABLE')
      await eventRunEnded(knex)
    }
  }
  return knex
}

function classify(error: unknown, outcome: Outcome): void {
  const errno = (error as { errno?: number }).errno
  if (errno === 1213) outcome.deadlocks++
  else if (errno === 1205) outcome.lockWaitTimeouts++
  else outcome.otherErrors.push((error as Error).message)
}

async function workload(knex: Knex): Promise<Outcome> {
  const outcome: Outcome = { writes: 0, deadlocks: 0, lockWaitTimeouts: 0, otherErrors: [] }
  const pick = (n: number) => Math.floor(Math.random() * n)
  const parent = () => pick(PARENTS) + 1
  const childOf = (p: number) => 1000 + (p - 1) + PARENTS * pick(CHILDREN)
  const family = () => pick(PARENTS * 2) + 1
  const stopAt = Date.now() + SECONDS * 1000
  const writers = Array.from({ length: WRITERS }, async () => {
    const connection = await knex.client.acquireConnection()
    const run = (sql: string, bindings: unknown[] = []) => knex.raw(sql, bindings as never[]).connection(connection)
    try {
      await run('SET SESSION innodb_lock_wait_timeout = 2')
      while (Date.now() < stopAt) {
        const op = pick(10)
        const p = parent()
        try {
          if (op < 3) {
            await run('UPDATE users SET family_id = ? WHERE id = ?', [family(), p])
            outcome.writes++
          } else if (op < 5) {
            await run("UPDATE users SET username = CONCAT('c', ?) WHERE id = ?", [pick(1000), childOf(p)])
            outcome.writes++
          } else if (op < 6) {
            await run('UPDATE users SET family_id = ? WHERE id = ?', [family(), childOf(p)])
            outcome.writes++
          } else {
            // A child and its parent in one transaction, in either order.
            const childFirst = op < 8
            await run('START TRANSACTION')
            try {
              for (const [sql, bindings] of childFirst
                ? [['UPDATE users SET family_id = ? WHERE id = ?', [family(), childOf(p)]], ['UPDATE users SET family_id = ? WHERE id = ?', [family(), p]]]
                : [['UPDATE users SET family_id = ? WHERE id = ?', [family(), p]], ["UPDATE users SET username = 'x' WHERE id = ?", [childOf(p)]]]) {
                await run(sql as string, bindings as unknown[])
              }
              await run('COMMIT')
              outcome.writes += 2
            } catch (error) {
              await run('ROLLBACK').catch(() => {})
              throw error
            }
          }
        } catch (error) {
          classify(error, outcome)
        }
      }
    } finally {
      await knex.client.releaseConnection(connection)
    }
  })
  await Promise.all(writers)
  return outcome
}

export async function contentionFigures(): Promise<Figure[]> {
  const admin = connect(undefined, 1)
  const [[{ state }]] = (await admin.raw('SELECT @@global.event_scheduler AS state')) as [[{ state: string }]]
  const setups: Setup[] = ['without family-sync', 'with family-sync, no drain running', 'with family-sync, event ON']
  const results = new Map<Setup, Outcome[]>(setups.map((s) => [s, []]))
  try {
    await admin.raw('SET GLOBAL event_scheduler = ON')
    for (let run = 0; run < RUNS; run++) {
      // Interleaved, so a slow minute of the machine hurts every setup alike.
      for (const setup of setups) {
        const knex = await prepare(setup)
        try {
          const outcome = await workload(knex)
          results.get(setup)!.push(outcome)
          log(`contention, ${setup}, run ${run + 1}: ${JSON.stringify({ ...outcome, otherErrors: outcome.otherErrors.slice(0, 3) })}`)
        } finally {
          await knex.raw('DROP DATABASE IF EXISTS ??', [DATABASE])
          await knex.destroy()
        }
      }
    }
  } finally {
    await admin.raw(`SET GLOBAL event_scheduler = ${state === 'ON' ? 'ON' : 'OFF'}`)
    await admin.destroy()
  }
  const summary = (setup: Setup) => {
    const outcomes = results.get(setup)!
    return {
      writes: median(outcomes.map((o) => o.writes)),
      errors: median(outcomes.map((o) => o.deadlocks + o.lockWaitTimeouts)),
      deadlocks: median(outcomes.map((o) => o.deadlocks)),
      timeouts: median(outcomes.map((o) => o.lockWaitTimeouts)),
      other: outcomes.flatMap((o) => o.otherErrors).length,
    }
  }
  const base = summary('without family-sync')
  const baseline = `${base.writes} writes, ${base.deadlocks} deadlocks, ${base.timeouts} lock wait timeouts (without family-sync)`
  return setups.slice(1).map((setup) => {
    const ours = summary(setup)
    const ratio = ours.writes / Math.max(1, base.writes)
    return {
      figure: `${WRITERS} application writers for ${SECONDS} s on ${PARENTS} parents x ${CHILDREN} children (parent changes, child updates, child+parent transactions in both orders), ${setup}`,
      baseline,
      ours: `${ours.writes} writes, ${ours.deadlocks} deadlocks, ${ours.timeouts} lock wait timeouts${ours.other ? `, ${ours.other} other errors` : ''}`,
      ratio: ratio.toFixed(2),
      target: 'throughput >= 0.8, errors <= without',
      met: ratio >= 0.8 && ours.errors <= base.errors && ours.other === 0,
    }
  })
}
