import { readFileSync } from 'node:fs'
import type { Knex } from 'knex'
import { createMigrator } from '../src/migrator/create-migrator.js'
import { APP_SCHEMA } from '../test/helpers/database.js'
import { connect, log, RUNS } from './context.js'
import { fmtMs, median, type Figure } from './measure.js'
import { cpuSeconds } from './proc.js'

// What family-sync costs a server while nothing happens: ten databases with
// the drain event, the server's CPU with the scheduler OFF (the baseline) and
// ON, in the same run; then, after that quiet minute, how long the first
// change takes to reach the children. Needs the server on this machine (its
// pid from @@pid_file, or BENCH_SERVER_PID for one started from a chroot).

const DATABASES = 10
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 60)
const name = (i: number) => `family_sync_bench_idle_${i}`

async function serverPid(admin: Knex): Promise<number | null> {
  // A server started from a chroot: its @@pid_file is a path inside the chroot.
  if (process.env.BENCH_SERVER_PID) return Number(process.env.BENCH_SERVER_PID)
  const [[{ file }]] = (await admin.raw('SELECT @@pid_file AS file')) as [[{ file: string }]]
  try {
    return Number(readFileSync(file, 'utf8').trim())
  } catch {
    return null
  }
}

async function installed(i: number): Promise<Knex> {
  const admin = connect(undefined, 1)
  await admin.raw('DROP DATABASE IF EXISTS ??', [name(i)])
  await admin.raw('CREATE DATABASE ??', [name(i)])
  await admin.destroy()
  const knex = connect(name(i), 2)
  for (const ddl of APP_SCHEMA) await knex.raw(ddl)
  await knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
  await knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
  await knex.raw(`INSERT INTO users (id, username, parent_id, family_id) VALUES ${Array.from({ length: 20 }, (_, c) => `(${10 + c}, 'child', 1, 1)`).join(', ')}`)
  await createMigrator(knex).up()
  return knex
}

// After the heavy figures InnoDB purges and flushes for a while: measuring
// then would charge that to whichever half of the run it falls in.
async function settled(pid: number): Promise<void> {
  const deadline = Date.now() + 180_000
  while ((await cpuOver(pid, 5)) > 1 && Date.now() < deadline) log('idle: waiting for the server to settle')
}

async function cpuOver(pid: number, seconds: number): Promise<number> {
  const before = cpuSeconds(pid)
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  return ((cpuSeconds(pid) - before) / seconds) * 100
}

export async function idleFigures(): Promise<Figure[]> {
  const admin = connect(undefined, 1)
  const pid = await serverPid(admin)
  if (pid === null) {
    await admin.destroy()
    throw new Error('the server is not on this machine (no readable @@pid_file): idle figures need its /proc')
  }
  const [[{ state }]] = (await admin.raw('SELECT @@global.event_scheduler AS state')) as [[{ state: string }]]
  const apps = await Promise.all(Array.from({ length: DATABASES }, (_, i) => installed(i)))
  const off: number[] = []
  const on: number[] = []
  const firstChange: number[] = []
  try {
    await admin.raw('SET GLOBAL event_scheduler = OFF')
    await settled(pid)
    for (let run = 0; run < RUNS; run++) {
      await admin.raw('SET GLOBAL event_scheduler = OFF')
      off.push(await cpuOver(pid, QUIET_SECONDS / 2))
      await admin.raw('SET GLOBAL event_scheduler = ON')
      on.push(await cpuOver(pid, QUIET_SECONDS))
      // After a quiet minute: the first change, to every child.
      const app = apps[run % DATABASES]
      // Every parent starts in family 1: each run moves one to the other family, a real change.
      const family = Math.floor(run / DATABASES) % 2 === 0 ? 2 : 1
      const started = performance.now()
      await app.raw('UPDATE users SET family_id = ? WHERE id = 1', [family])
      for (;;) {
        const [[{ behind }]] = (await app.raw('SELECT COUNT(*) AS behind FROM users WHERE parent_id = 1 AND family_id <> ?', [family])) as [[{ behind: number }]]
        if (Number(behind) === 0) break
        if (performance.now() - started > 10_000) throw new Error('the first change after a quiet minute did not arrive within 10 s')
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      firstChange.push(performance.now() - started)
      log(`idle run ${run + 1}: server CPU ${off.at(-1)!.toFixed(2)}% scheduler OFF, ${on.at(-1)!.toFixed(2)}% ON with ${DATABASES} idle drain events; first change after ${QUIET_SECONDS} s quiet reached the children in ${fmtMs(firstChange.at(-1)!)}`)
    }
  } finally {
    await admin.raw(`SET GLOBAL event_scheduler = ${state === 'ON' ? 'ON' : 'OFF'}`)
    for (let i = 0; i < DATABASES; i++) {
      await apps[i].destroy()
      await admin.raw('DROP DATABASE IF EXISTS ??', [name(i)])
    }
    await admin.destroy()
  }
  const added = median(on) - median(off)
  return [
    {
      figure: `server CPU with ${DATABASES} databases' drain events running and nothing to do (${QUIET_SECONDS} s)`,
      baseline: `${median(off).toFixed(2)}% of a core, scheduler OFF`,
      ours: `${median(on).toFixed(2)}% (+${added.toFixed(2)} for ${DATABASES} events)`,
      ratio: '—',
      target: `<= +0.2% of a core per database`,
      met: added <= 0.2 * DATABASES,
    },
    {
      figure: `first change after ${QUIET_SECONDS} s of quiet, event ON: until every child has it`,
      baseline: '—',
      ours: `${fmtMs(median(firstChange))} (slowest ${fmtMs(Math.max(...firstChange))})`,
      ratio: '—',
      target: '<= 300 ms',
      met: Math.max(...firstChange) <= 300,
    },
  ]
}
