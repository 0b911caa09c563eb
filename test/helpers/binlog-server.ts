import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import knexFactory from 'knex'

export interface ExtraServer {
  /** Server URL with an account that may do anything, no database. */
  url: string
  stop(): Promise<void>
}

const MARIADBD = ['/usr/sbin/mariadbd', '/usr/local/bin/mariadbd'].find(existsSync)

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function waitUntilUp(url: string, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    // The refusals while the server starts are expected: keep them out of the test log.
    const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} }
    const knex = knexFactory({ client: 'mysql2', connection: url, log: quiet })
    try {
      await knex.raw('SELECT 1')
      return
    } catch (error) {
      if (Date.now() > deadline || child?.exitCode !== null && child?.exitCode !== undefined) throw error
      await new Promise((resolve) => setTimeout(resolve, 250))
    } finally {
      await knex.destroy()
    }
  }
}

/**
 * A second server with binary logging on: a temporary mariadbd when this
 * machine has one, else MySQL 8.4 in a container (binary logging is on by
 * default there).
 */
export async function startBinlogServer(): Promise<ExtraServer> {
  if (MARIADBD) {
    const datadir = mkdtempSync(join(tmpdir(), 'family-sync-binlog-'))
    const install = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--user=root', '--skip-test-db'], { encoding: 'utf8' })
    if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`)
    const port = await freePort()
    const child = spawn(MARIADBD, ['--no-defaults', `--datadir=${datadir}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(datadir, 'mysqld.sock')}`, `--log-bin=${join(datadir, 'binlog')}`, '--server-id=7', '--user=root', '--skip-networking=0'], { stdio: 'ignore' })
    const url = `mysql://root@127.0.0.1:${port}`
    await waitUntilUp(url, child)
    return {
      url,
      async stop() {
        child.kill('SIGTERM')
        await new Promise((resolve) => child.once('close', resolve))
        rmSync(datadir, { recursive: true, force: true })
      },
    }
  }
  const { MySqlContainer } = await import('@testcontainers/mysql')
  const container = await new MySqlContainer('mysql:8.4').withRootPassword('family-sync').start()
  const url = `mysql://root:family-sync@${container.getHost()}:${container.getPort()}`
  return { url, stop: async () => void (await container.stop()) }
}
