import { spawnSync } from 'node:child_process'
import { serverUrl } from './database.js'

/** Runs a script through the mariadb (or mysql) command-line client, as a DBA would. */
export function runInClient(database: string, script: string, extraArgs: string[] = []): { status: number | null; stderr: string } {
  const server = new URL(serverUrl())
  const client = ['mariadb', 'mysql'].find((bin) => spawnSync(bin, ['--version']).status === 0)
  if (!client) throw new Error('a mariadb or mysql command-line client is needed on PATH')
  const args = ['-h', server.hostname, '-P', server.port || '3306', '-u', decodeURIComponent(server.username) || 'root', ...extraArgs, database]
  const run = spawnSync(client, args, { input: script, env: { ...process.env, MYSQL_PWD: decodeURIComponent(server.password) } })
  return { status: run.status, stderr: run.stderr.toString() }
}
