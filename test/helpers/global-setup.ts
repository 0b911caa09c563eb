import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    serverUrl: string
  }
}

// TEST_DATABASE_URL names a server (no database); each test file creates and
// drops its own database on it. Without it, testcontainers starts MySQL 8.4
// (Docker needed); the topology tests need mariadbd and skip themselves then.
// Neither available is a failure with instructions, never a silent skip.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.TEST_DATABASE_URL
  if (given) {
    const server = new URL(given)
    server.pathname = ''
    project.provide('serverUrl', server.toString().replace(/\/$/, ''))
    return async () => {}
  }
  try {
    const { MySqlContainer } = await import('@testcontainers/mysql')
    // MySQL 8 logs binary by default, and its scheduler is ON by default; the
    // tests' accounts have no SET_ANY_DEFINER, and tests that count queue rows
    // turn the scheduler on themselves, as on MariaDB.
    const container = await new MySqlContainer('mysql:8.4')
      .withRootPassword('family-sync')
      .withCommand(['--log-bin-trust-function-creators=1', '--event-scheduler=OFF'])
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
