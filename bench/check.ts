import type { Knex } from 'knex'
import { checkConsistency } from '../src/library.js'
import { COUNT_MISMATCHES } from '../src/db/invariant.js'
import { RUNS } from './context.js'
import { resetMismatches, type Shape } from './dataset.js'
import { fmtMs, median, timed, type Figure } from './measure.js'

export async function checkFigures(knex: Knex, shape: Shape): Promise<Figure[]> {
  await resetMismatches(knex, shape)
  const base: number[] = []
  const ours: number[] = []
  for (let run = 0; run < RUNS; run++) {
    base.push((await timed(() => knex.raw(COUNT_MISMATCHES))).ms)
    ours.push((await timed(() => checkConsistency(knex))).ms)
  }
  const perFamily: number[] = []
  for (let i = 0; i < 50; i++) {
    const familyId = 1 + Math.floor(Math.random() * shape.parents)
    perFamily.push((await timed(() => checkConsistency(knex, { familyId }))).ms)
  }
  const ratio = median(ours) / median(base)
  return [
    { figure: 'checkConsistency, whole table', baseline: `${fmtMs(median(base))} (raw mismatch COUNT)`, ours: fmtMs(median(ours)), ratio: ratio.toFixed(2), target: '<= 1.2', met: ratio <= 1.2 },
    { figure: 'checkConsistency, one family (median of 50)', baseline: '—', ours: fmtMs(median(perFamily)), ratio: '—', target: '< 5 ms', met: median(perFamily) < 5 },
  ]
}
