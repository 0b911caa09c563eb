import { spawnSync } from 'node:child_process'
import { serverUrl } from './database.js'
import { inBuild } from './server-builds.js'
import { suiteBuild } from './suite-build.js'

/**
 * Runs a script through the server's own command-line client, as a DBA
 * would: MySQL's mysql against MySQL, MariaDB's mariadb against MariaDB (a
 * chroot build's client from its chroot). A suite server in a container
 * gets whichever client this machine has.
 */
export function runInClient(database: string, script: string, extraArgs: string[] = []): { status: number | null; stderr: string } {
  const server = new URL(serverUrl())
  const build = suiteBuild()
  const client = build?.client ?? ['mariadb', 'mysql'].find((bin) => spawnSync(bin, ['--version']).status === 0)
  if (!client) throw new Error('a mariadb or mysql command-line client is needed on PATH')
  // MariaDB's 11.x client verifies the server's certificate by default and warns on stderr that it
  // cannot for a passwordless login; the test servers' root has no password.
  const quiet = client === 'mariadb' ? ['--skip-ssl-verify-server-cert'] : []
  const args = ['-h', server.hostname, '-P', server.port || '3306', '-u', decodeURIComponent(server.username) || 'root', ...quiet, ...extraArgs, database]
  const [file, argv] = build ? inBuild(build, client, args) : [client, args]
  const run = spawnSync(file, argv, { input: script, env: { ...process.env, MYSQL_PWD: decodeURIComponent(server.password) } })
  return { status: run.status, stderr: run.stderr.toString() }
}
