// `npm run bench`: family-sync's figures on every server the suite runs on,
// each against baselines measured in the same run on the same server.
//
// BENCH_SERVERS picks the servers (comma-separated, default all:
// machine, mariadb-11.8, mysql-9.7): `machine` is the server at
// BENCH_DATABASE_URL (default mysql://root@127.0.0.1:3306); the others are
// started from their Debian chroots as the tests start them (test/helpers),
// with their own defaults, and stopped after. Setting BENCH_DATABASE_URL alone
// measures that server only.
//
// Per figure: BENCH_USERS scales the table (default 1,000,000), BENCH_RUNS the
// repetitions (default 3), BENCH_CONVERGE_SECONDS the convergence runs
// (default 30), BENCH_CONTENTION_SECONDS the contention runs (default 20),
// BENCH_QUIET_SECONDS the idle figures (default 60), BENCH_SERVE_SECONDS the
// serve sidecar's (default 600), BENCH_ONLY picks figures by name
// (comma-separated: repair, repair-200k, sparse, memory, triggers, check,
// convergence, big-family, migrate, contention, batches, idle, serve) and
// prints them without writing bench/RESULTS.md.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../src/paths.js'
import { buildOf, selectedKinds, type ServerKind } from '../test/helpers/server-builds.js'
import { startServer, type ExtraServer } from '../test/helpers/servers.js'
import { log } from './context.js'

const MACHINE_URL = (process.env.BENCH_DATABASE_URL ?? 'mysql://root@127.0.0.1:3306').replace(/\/+$/, '')

/** One server's figures, measured by bench/one-server.ts in a process of its own; its markdown section. */
function figuresOf(url: string, label: string, pid?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(packageRoot(), 'bench', 'one-server.ts')], {
      env: { ...process.env, BENCH_DATABASE_URL: url, BENCH_SERVER_LABEL: label, ...(pid ? { BENCH_SERVER_PID: String(pid) } : {}) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      process.stdout.write(chunk)
    })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`the figures of ${label} failed (exit ${code})`))))
  })
}

async function figuresFor(kind: ServerKind): Promise<string> {
  if (kind === 'machine') return figuresOf(MACHINE_URL, 'this machine\'s server')
  const build = buildOf(kind)!
  log(`starting ${kind} from its chroot`)
  // As long as the longest figures take, then killed by pid.
  const server: ExtraServer = await startServer({ build, hardTimeoutMs: 4 * 60 * 60 * 1000 })
  try {
    return await figuresOf(server.url, `${kind} (started from its chroot with its defaults)`, server.pid)
  } finally {
    await server.remove()
  }
}

async function main(): Promise<void> {
  const kinds: ServerKind[] = process.env.BENCH_DATABASE_URL && !process.env.BENCH_SERVERS ? ['machine'] : selectedKinds({ FAMILY_SYNC_TEST_SERVERS: process.env.BENCH_SERVERS })
  const sections: string[] = []
  let failed = false
  for (const kind of kinds) {
    try {
      sections.push(await figuresFor(kind))
    } catch (error) {
      // One server's failure must not cost the others' figures: it is reported.
      failed = true
      log((error as Error).message)
      sections.push(`## ${kind}\n\nfailed: ${(error as Error).message}\n`)
    }
  }
  if (process.env.BENCH_ONLY) return
  const settings = ['BENCH_USERS', 'BENCH_RUNS', 'BENCH_CONVERGE_SECONDS', 'BENCH_CONTENTION_SECONDS', 'BENCH_QUIET_SECONDS', 'BENCH_SERVE_SECONDS']
    .filter((name) => process.env[name])
    .map((name) => `${name}=${process.env[name]}`)
  const head = [
    '# family-sync benchmark results',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    `- settings: ${settings.length ? settings.join(' ') : 'the defaults'} (see bench/run.ts)`,
    '',
  ]
  writeFileSync(join(packageRoot(), 'bench', 'RESULTS.md'), [...head, ...sections].join('\n'))
  if (failed) process.exitCode = 1
}

await main()
