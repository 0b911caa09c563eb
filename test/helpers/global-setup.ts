import type { TestProject } from 'vitest/node'
import { newRunId, sweep } from './sweep.js'

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string
    runId: string
  }
}

// TEST_DATABASE_URL names a server (no database); each test file creates and
// drops its own database on it. Without it, testcontainers starts MySQL 8.4
// (Docker needed); the topology tests need mariadbd and skip themselves then.
// Neither available is a failure with instructions, never a silent skip.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const run = newRunId()
  project.provide('runId', run)
  const given = process.env.TEST_DATABASE_URL
  if (given) {
    const server = new URL(given)
    server.pathname = ''
    const url = server.toString().replace(/\/$/, '')
    project.provide('serverUrl', url)
    const stale = await sweep(url)
    if (stale.length > 0) console.warn(`dropped ${stale.length} test database(s) an earlier run left behind: ${stale.join(', ')}`)
    // Whatever a timed-out test could not drop goes at the end of the run.
    return async () => {
      await sweep(url, run)
    }
  }
  try {
    const { MySqlContainer } = await import('@testcontainers/mysql')
    // MySQL 8 logs binary by default and runs its event scheduler by default:
    // the suite runs on it as MySQL ships (the tests' accounts have no
    // SET_ANY_DEFINER, hence log_bin_trust_function_creators).
    const container = await new MySqlContainer('mysql:8.4')
      .withRootPassword('family-sync')
      .withCommand(['--log-bin-trust-function-creators=1'])
      .start()
    project.provide('serverUrl', `mysql://root:family-sync@${container.getHost()}:${container.getPort()}`)
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
