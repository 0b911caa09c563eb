import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import knexFactory from 'knex'

export const MARIADBD = ['/usr/sbin/mariadbd', '/usr/local/bin/mariadbd'].find(existsSync)

export interface ExtraServer {
  /** Server URL as root, no database. */
  url: string
  port: number
  datadir: string
  socket: string
  readonly pid: number | undefined
  /** SIGTERM, wait for it to exit. */
  stop(): Promise<void>
  /** SIGKILL, as a crash. */
  kill(): Promise<void>
  /** Starts it again on the same datadir and port, with extra options for this start if given. */
  start(extra?: string[]): Promise<void>
  /** Stops it and removes its datadir. */
  remove(): Promise<void>
}

export interface ServerOptions {
  /** Extra mariadbd options. */
  args?: string[]
  /** Run as this OS user (Galera's rsync SST refuses root). */
  user?: string
  /** The server is killed after this long whatever happens (default 10 minutes). */
  hardTimeoutMs?: number
  /** Port to use (default: a free one). */
  port?: number
  /** Extra environment (Galera needs PATH to find wsrep_sst_rsync). */
  env?: Record<string, string>
}

// Every server a test starts is killed by pid when the test process exits,
// however it exits, and after its hard timeout in any case.
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function waitUntilUp(url: string, child?: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    // The refusals while the server starts are expected: keep them out of the test log.
    const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} }
    const knex = knexFactory({ client: 'mysql2', connection: url, log: quiet, pool: { min: 0, max: 1 }, acquireConnectionTimeout: 2000 })
    try {
      await knex.raw('SELECT 1')
      return
    } catch (error) {
      if (Date.now() > deadline || (child && child.exitCode !== null)) throw new Error(`server at ${url} did not come up: ${(error as Error).message}`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    } finally {
      await knex.destroy()
    }
  }
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))
}

/** A mariadbd of the test's own, on a temporary datadir and a free port. */
export async function startServer(options: ServerOptions = {}): Promise<ExtraServer> {
  if (!MARIADBD) throw new Error('mariadbd is not installed')
  const base = mkdtempSync(join(tmpdir(), 'family-sync-server-'))
  chmodSync(base, 0o755)
  const datadir = join(base, 'data')
  mkdirSync(datadir)
  // A server starting up deletes every #sql… file in its tmpdir: sharing /tmp
  // with the suite's server would delete that server's temporary tables under
  // its running statements ("Error on delete of '/tmp/#sql-temptable-…'").
  const tmp = join(base, 'tmp')
  mkdirSync(tmp)
  const user = options.user ?? userInfo().username
  if (options.user) {
    const ids = spawnSync('id', ['-u', user], { encoding: 'utf8' })
    const gids = spawnSync('id', ['-g', user], { encoding: 'utf8' })
    chownSync(base, Number(ids.stdout), Number(gids.stdout))
    chownSync(datadir, Number(ids.stdout), Number(gids.stdout))
    chownSync(tmp, Number(ids.stdout), Number(gids.stdout))
  }
  const install = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', `--user=${user}`, '--skip-test-db', `--tmpdir=${tmp}`], { encoding: 'utf8' })
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`)
  const port = options.port ?? (await freePort())
  const socket = join(base, 'mysqld.sock')
  const url = `mysql://root@127.0.0.1:${port}`
  let child: ChildProcess | undefined
  let hard: NodeJS.Timeout | undefined
  const args = ['--no-defaults', `--datadir=${datadir}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${socket}`, `--tmpdir=${tmp}`, `--pid-file=${join(base, 'mysqld.pid')}`, `--user=${user}`, `--log-error=${join(base, 'error.log')}`, ...(options.args ?? [])]

  async function start(extra: string[] = []): Promise<void> {
    child = spawn(MARIADBD!, [...args, ...extra], { stdio: 'ignore', env: { ...process.env, ...options.env } })
    running.add(child)
    const started = child
    child.once('exit', () => running.delete(started))
    hard = setTimeout(() => started.kill('SIGKILL'), options.hardTimeoutMs ?? 600_000)
    hard.unref()
    await waitUntilUp(url, child)
  }

  async function signal(name: NodeJS.Signals): Promise<void> {
    if (!child) return
    const current = child
    clearTimeout(hard)
    current.kill(name)
    const timer = setTimeout(() => current.kill('SIGKILL'), 30_000)
    await exited(current)
    clearTimeout(timer)
    child = undefined
  }

  await start()
  return {
    url,
    port,
    datadir,
    socket,
    get pid() {
      return child?.pid
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    start,
    async remove() {
      await signal('SIGTERM')
      rmSync(base, { recursive: true, force: true })
    },
  }
}

/**
 * A second server with binary logging on: a temporary mariadbd when this
 * machine has one, else MySQL 8.4 in a container (binary logging is on by
 * default there).
 */
export async function startBinlogServer(): Promise<Pick<ExtraServer, 'url' | 'remove'>> {
  if (MARIADBD) return startServer({ args: ['--log-bin=binlog', '--server-id=7'] })
  const { MySqlContainer } = await import('@testcontainers/mysql')
  const container = await new MySqlContainer('mysql:8.4').withRootPassword('family-sync').start()
  const url = `mysql://root:family-sync@${container.getHost()}:${container.getPort()}`
  return { url, remove: async () => void (await container.stop()) }
}
