import { inject } from 'vitest'
import { buildOf, type ServerBuild, type ServerKind } from './server-builds.js'
import { startServer, type ExtraServer, type ServerOptions } from './servers.js'

/**
 * The build of the server this test file runs against: tests that start
 * servers of their own (replicas, TLS, restarts) start the same kind. Undefined
 * when this machine cannot start one (the suite's server is in a container and
 * there is no mariadbd here).
 */
export function suiteBuild(): ServerBuild | undefined {
  return buildOf(inject('serverKind') as ServerKind)
}

/** Why a test that starts servers of its own cannot run here, or undefined when it can. */
export function cannotStartServers(): string | undefined {
  return suiteBuild() ? undefined : 'needs a server binary on this machine to start servers of its own (Debian: apt-get install mariadb-server)'
}

/** A server of the suite's own kind (see servers.ts), for tests that need one of their own. */
export function startSuiteServer(options: Omit<ServerOptions, 'build'> = {}): Promise<ExtraServer> {
  const build = suiteBuild()
  if (!build) throw new Error(cannotStartServers())
  return startServer({ ...options, build })
}

/** A second server of the suite's kind with binary logging on (MySQL's default; MariaDB's is off). */
export async function startBinlogServer(): Promise<Pick<ExtraServer, 'url' | 'remove'>> {
  if (suiteBuild()) return startSuiteServer({ args: ['--log-bin=binlog', '--server-id=7'] })
  const { MySqlContainer } = await import('@testcontainers/mysql')
  const container = await new MySqlContainer('mysql:8.4').withRootPassword('family-sync').start()
  const url = `mysql://root:family-sync@${container.getHost()}:${container.getPort()}`
  return { url, remove: async () => void (await container.stop()) }
}
