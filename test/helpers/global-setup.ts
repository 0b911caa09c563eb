import knexFactory from 'knex'
import type { TestProject } from 'vitest/node'
import { chrootBuild, type ServerKind } from './server-builds.js'
import { startServer } from './servers.js'
import { newRunId, sweep } from './sweep.js'

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string
    runId: string
    serverKind: ServerKind
  }
}

/** The server kind of a server project, from its name (server:<kind>). */
function kindOf(project: TestProject): ServerKind {
  return project.name.replace(/^server:/, '') as ServerKind
}

async function announce(project: TestProject, url: string): Promise<void> {
  const knex = knexFactory({ client: 'mysql2', connection: url, pool: { min: 0, max: 1 } })
  try {
    const [[row]] = (await knex.raw('SELECT VERSION() AS v, @@event_scheduler AS es, @@log_bin AS lb')) as [[{ v: string; es: string; lb: number }]]
    console.log(`${project.name}: ${row.v} at ${new URL(url).host} (event scheduler ${row.es}, binary log ${Number(row.lb) ? 'ON' : 'OFF'})`)
  } finally {
    await knex.destroy()
  }
}

/**
 * One server project per server. `machine` is the server TEST_DATABASE_URL
 * names (this machine's MariaDB in CI), or MySQL 8.4 started by
 * testcontainers when it is not set (Docker needed). The others are started
 * here from their Debian chroots, as each ships: its own defaults, nothing
 * set on top. Each test file creates and drops its own database on it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const run = newRunId()
  const kind = kindOf(project)
  project.provide('runId', run)
  project.provide('serverKind', kind)
  if (kind !== 'machine') {
    const server = await startServer({ build: chrootBuild(kind), hardTimeoutMs: 3 * 60 * 60 * 1000 })
    project.provide('serverUrl', server.url)
    await announce(project, server.url)
    return () => server.remove()
  }
  const given = process.env.TEST_DATABASE_URL
  if (given) {
    const server = new URL(given)
    server.pathname = ''
    const url = server.toString().replace(/\/$/, '')
    project.provide('serverUrl', url)
    await announce(project, url)
    const stale = await sweep(url)
    if (stale.length > 0) console.warn(`dropped ${stale.length} test database(s) an earlier run left behind: ${stale.join(', ')}`)
    // Whatever a timed-out test could not drop goes at the end of the run.
    return async () => {
      await sweep(url, run)
    }
  }
  try {
    const { MySqlContainer } = await import('@testcontainers/mysql')
    // MySQL as it ships: binary logging and the event scheduler on.
    const container = await new MySqlContainer('mysql:8.4').withRootPassword('family-sync').start()
    const url = `mysql://root:family-sync@${container.getHost()}:${container.getPort()}`
    project.provide('serverUrl', url)
    await announce(project, url)
    return async () => {
      await container.stop()
    }
  } catch (error) {
    throw new Error(
      'family-sync tests need a MySQL or MariaDB server: set TEST_DATABASE_URL=mysql://root@127.0.0.1:3306 ' +
        `(an account that may create databases), or make Docker available for testcontainers. Docker said: ${(error as Error).message}`,
    )
  }
}
