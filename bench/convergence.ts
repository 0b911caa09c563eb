import type { Knex } from 'knex'
import { drainSyncQueue, repairFamilyIds } from '../src/library.js'
import { shippedCatalogue } from '../src/db/catalogue.js'
import { CONVERGE_SECONDS, log, withEventScheduler } from './context.js'
import type { Shape } from './dataset.js'
import { fmtMs, median, percentile, timed, type Figure } from './measure.js'

/**
 * Parents change family at a steady rate with the event ON; each change's
 * latency is the time until every child of that parent has the new family,
 * as a watcher polling every 10 ms sees it.
 */
async function convergence(knex: Knex, shape: Shape, perSecond: number): Promise<number[]> {
  const s = shape.stride
  const latencies: number[] = []
  const pending = new Map<string, number>()
  const stopAt = Date.now() + CONVERGE_SECONDS * 1000
  const started = Date.now()
  const interval = 1000 / perSecond
  let updates = 0
  const writer = (async () => {
    for (let tick = 0; Date.now() < stopAt; tick++) {
      const n = 1 + Math.floor(Math.random() * shape.parents)
      const parent = (BigInt(n) * s).toString()
      if (!pending.has(parent)) {
        const family = 1 + Math.floor(Math.random() * shape.parents)
        await knex.raw('UPDATE users SET family_id = ? WHERE id = ?', [family, parent])
        pending.set(parent, Date.now())
        updates++
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + (tick + 1) * interval - Date.now())))
    }
  })()
  const watcher = (async () => {
    while (Date.now() < stopAt + 5000 && (Date.now() < stopAt || pending.size > 0)) {
      const ids = [...pending.keys()]
      if (ids.length > 0) {
        const [done] = (await knex.raw(
          `SELECT CAST(p.id AS CHAR) AS id FROM users p WHERE p.id IN (?) AND NOT EXISTS
             (SELECT 1 FROM users c WHERE c.parent_id = p.id AND c.id <> p.id AND NOT (c.family_id <=> p.family_id))`,
          [ids.map(Number)],
        )) as [Array<{ id: string }>]
        const now = Date.now()
        for (const { id } of done) {
          latencies.push(now - pending.get(id)!)
          pending.delete(id)
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  await Promise.all([writer, watcher])
  log(`convergence at ${perSecond}/s: ${updates} parent updates in ${CONVERGE_SECONDS} s, ${latencies.length} converged, ${pending.size} not`)
  return latencies
}

export async function convergenceFigures(knex: Knex, shape: Shape): Promise<Figure[]> {
  await repairFamilyIds(knex)
  await knex.raw('DROP EVENT IF EXISTS family_sync_drain_every_second')
  await knex.raw(shippedCatalogue().createStatement('family_sync_drain_every_second'))
  const figures: Figure[] = []
  try {
    await withEventScheduler(async () => {
      for (const [rate, target] of [[50, 1500], [500, 250]] as const) {
        const latencies = await convergence(knex, shape, rate)
        const p99 = latencies.length ? percentile(latencies, 99) : Infinity
        figures.push({
          figure: `parents changing family at ${rate}/s for ${CONVERGE_SECONDS} s, event ON: p99 until every child matches`,
          baseline: '—',
          ours: `${fmtMs(p99)} (median ${fmtMs(median(latencies))}, n=${latencies.length})`,
          ratio: '—',
          target: `<= ${fmtMs(target)}`,
          met: p99 <= target,
        })
      }
    })
  } finally {
    await knex.raw('DROP EVENT IF EXISTS family_sync_drain_every_second')
  }
  // Throughput: a burst of queued parents drained by one caller.
  const burst = Math.min(20_000, shape.parents)
  await knex.raw(`UPDATE users SET family_id = IF(family_id = ?, 1, family_id + 1) WHERE id <= ? * ${shape.stride}`, [shape.parents, burst])
  const { ms, value } = await timed(() => drainSyncQueue(knex))
  figures.push({ figure: `drain throughput (${value.applied} queued parents, 4 children each, one caller)`, baseline: '—', ours: `${(value.applied / (ms / 1000)).toFixed(0)} parents/s`, ratio: '—', target: 'reported', met: true })
  return figures
}
