import knexFactory, { type Knex } from 'knex'
import { join } from 'node:path'
import { packageRoot } from '../src/paths.js'

// What every figure module needs: where the server is, how many runs, how to log.
export const SERVER = (process.env.BENCH_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, '')
export const USERS = Number(process.env.BENCH_USERS ?? 1_000_000)
export const RUNS = Number(process.env.BENCH_RUNS ?? 3)
export const CONVERGE_SECONDS = Number(process.env.BENCH_CONVERGE_SECONDS ?? 30)
export const CLI = join(packageRoot(), 'dist', 'src', 'cli.js')

export const log = (line: string) => process.stderr.write(`bench: ${line}\n`)

export function connect(database?: string, max = 8): Knex {
  return knexFactory({ client: 'mysql2', connection: `${SERVER}${database ? '/' + database : ''}`, pool: { min: 0, max } })
}

/** Runs `work` with the server's event scheduler ON, and puts it back as it was. */
export async function withEventScheduler<T>(work: () => Promise<T>): Promise<T> {
  const admin = connect(undefined, 1)
  const [[{ state }]] = (await admin.raw('SELECT @@global.event_scheduler AS state')) as [[{ state: string }]]
  try {
    await admin.raw('SET GLOBAL event_scheduler = ON')
    return await work()
  } finally {
    await admin.raw(`SET GLOBAL event_scheduler = ${state === 'ON' ? 'ON' : 'OFF'}`)
    await admin.destroy()
  }
}
