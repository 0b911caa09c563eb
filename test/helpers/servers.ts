import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import knexFactory from 'knex'
import { inBuild, type ServerBuild } from './server-builds.js'

export interface ExtraServer {
  /** Server URL as root, no database. */
  url: string
  port: number
  build: ServerBuild
  /** The datadir as seen from this machine (inside the chroot's tree for a chroot build). */
  datadir: string
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
  /** Which server to start (suiteBuild() gives the suite's own kind). */
  build: ServerBuild
  /** Extra server options. */
  args?: string[]
  /** Run as this OS user, as the build knows it (Galera's rsync SST refuses root). */
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

export async function waitUntilUp(url: string, child?: ChildProcess, timeoutMs = 90_000): Promise<void> {
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

const STALE_MS = 3 * 60 * 60 * 1000

/**
 * Where a server's files go: a fresh directory of its own, under /tmp for this
 * machine's build, inside the chroot for a chroot build (the server sees only
 * the chroot). Directories an earlier run could not remove go after a few hours.
 */
function serverBase(root: string): { outside: string; inside: string } {
  const parent = root ? join(root, 'srv', 'family-sync-test') : tmpdir()
  mkdirSync(parent, { recursive: true })
  if (root) {
    for (const name of readdirSync(parent)) {
      const dir = join(parent, name)
      if (Date.now() - statSync(dir).mtimeMs > STALE_MS) rmSync(dir, { recursive: true, force: true })
    }
  }
  const outside = mkdtempSync(join(parent, 'family-sync-server-'))
  chmodSync(outside, 0o755)
  return { outside, inside: root ? outside.slice(root.length) : outside }
}

/**
 * A directory for files a server of this build, or its client, reads
 * (certificates, a file to load): its path here, and as they see it. Without a
 * build (a server in a container) it is a directory of this machine's /tmp.
 */
export function filesFor(build: ServerBuild | undefined): { outside: string; inside: string; remove(): void } {
  const base = serverBase(build?.root ?? '')
  return { ...base, remove: () => rmSync(base.outside, { recursive: true, force: true }) }
}

/** Server options that turn TLS off: MySQL and MariaDB 11.4+ offer TLS by default, with certificates they make themselves. */
export function withoutTls(build: ServerBuild): string[] {
  return build.engine === 'mysql' ? ['--tls-version='] : ['--skip-ssl']
}

function run(build: ServerBuild, command: string, args: string[]): void {
  const [file, argv] = inBuild(build, command, args)
  const result = spawnSync(file, argv, { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`)
}

/**
 * A server of the test's own, on a temporary datadir, tmpdir, socket and a
 * free port, with the build's own defaults (--no-defaults: nothing from a
 * my.cnf), killed by pid when the test process exits.
 */
export async function startServer(options: ServerOptions): Promise<ExtraServer> {
  const build = options.build
  const base = serverBase(build.root)
  const path = (name: string) => ({ outside: join(base.outside, name), inside: join(base.inside, name) })
  const datadir = path('data')
  // A server starting up deletes every #sql… file in its tmpdir: sharing /tmp
  // with the suite's server would delete that server's temporary tables under
  // its running statements ("Error on delete of '/tmp/#sql-temptable-…'").
  const tmp = path('tmp')
  const files = path('files')
  // mysqld --initialize makes its datadir itself, and refuses one that exists.
  const dirs = build.engine === 'mysql' ? [tmp, files] : [tmp, files, datadir]
  for (const dir of dirs) mkdirSync(dir.outside)
  const user = options.user ?? (build.root ? 'root' : userInfo().username)
  if (options.user) {
    // The user as the server sees it: a chroot has its own /etc/passwd.
    const id = (flag: string) => Number(spawnSync(...inBuild(build, 'id', [flag, user]), { encoding: 'utf8' }).stdout)
    const uid = id('-u')
    const gid = id('-g')
    for (const dir of [base.outside, ...dirs.map((d) => d.outside)]) chownSync(dir, uid, gid)
  }
  if (build.engine === 'mysql') {
    run(build, build.server, ['--no-defaults', '--initialize-insecure', `--datadir=${datadir.inside}`, `--tmpdir=${tmp.inside}`, `--user=${user}`])
  } else {
    run(build, 'mariadb-install-db', ['--no-defaults', '--force', `--datadir=${datadir.inside}`, '--auth-root-authentication-method=normal', `--user=${user}`, '--skip-test-db', `--tmpdir=${tmp.inside}`])
  }
  const port = options.port ?? (await freePort())
  const url = `mysql://root@127.0.0.1:${port}`
  let child: ChildProcess | undefined
  let hard: NodeJS.Timeout | undefined
  const args = [
    '--no-defaults',
    `--datadir=${datadir.inside}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${path('mysqld.sock').inside}`,
    `--tmpdir=${tmp.inside}`,
    `--pid-file=${path('mysqld.pid').inside}`,
    `--user=${user}`,
    `--log-error=${path('error.log').inside}`,
    // MySQL: no X protocol listener, and LOAD DATA/SELECT INTO OUTFILE confined to a directory of its own.
    ...(build.engine === 'mysql' ? ['--mysqlx=OFF', `--secure-file-priv=${files.inside}`] : []),
    ...(options.args ?? []),
  ]

  async function start(extra: string[] = []): Promise<void> {
    const [file, argv] = inBuild(build!, build!.server, [...args, ...extra])
    child = spawn(file, argv, { stdio: 'ignore', env: { ...process.env, ...options.env } })
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

  try {
    await start()
  } catch (error) {
    rmSync(base.outside, { recursive: true, force: true })
    throw error
  }
  return {
    url,
    port,
    build,
    datadir: datadir.outside,
    get pid() {
      return child?.pid
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    start,
    async remove() {
      await signal('SIGTERM')
      rmSync(base.outside, { recursive: true, force: true })
    },
  }
}

