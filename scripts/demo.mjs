// `npm run demo`: the bug report and its fix in a minute. Creates the database
// named by DATABASE_URL (default family_sync_demo on the local server) if
// needed, seeds the bug report's state, shows the mismatch, runs
// `family-sync migrate up`, and shows that the children followed.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import knexFactory from 'knex'
import { redactUrl } from '../dist/src/connection/url.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const url = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/family_sync_demo'
const env = { ...process.env, DATABASE_URL: url }
const parsed = new URL(url)
const database = decodeURIComponent(parsed.pathname.slice(1))
const hidden = redactUrl(url)

function step(title, command, args, okCodes = [0]) {
  process.stdout.write(`\n$ ${title}\n`)
  const run = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' })
  if (!okCodes.includes(run.status)) {
    process.stderr.write(`demo: '${title}' exited ${run.status}\n`)
    process.exit(run.status ?? 2)
  }
}

const server = new URL(url)
server.pathname = '/'
const admin = knexFactory({ client: 'mysql2', connection: { host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username) || 'root', password: decodeURIComponent(server.password) } })
try {
  await admin.raw('CREATE DATABASE IF NOT EXISTS ??', [database])
} catch (error) {
  process.stderr.write(`demo: cannot create database '${database}' at ${hidden.replace(/\/[^/]*$/, '')}: ${error.code ?? error.message}\n`)
  process.exit(2)
} finally {
  await admin.destroy()
}

const cli = join(root, 'dist', 'src', 'cli.js')
process.stdout.write(`family-sync demo on ${hidden}\n`)
step('knex seed:run   # the bug report: asela (2) created family Sela (1); Makoto (3) and Eli (4) kept family_id NULL', process.execPath, ['--import', 'tsx', join(root, 'node_modules', 'knex', 'bin', 'cli.js'), 'seed:run', '--knexfile', 'knexfile.ts'])
step('family-sync check   # exit 1: the children are lost', process.execPath, [cli, 'check'], [0, 1])
step('family-sync migrate up', process.execPath, [cli, 'migrate', 'up'])
step('family-sync drain   # what the every-second event does when the event scheduler is ON', process.execPath, [cli, 'drain'])
step('family-sync check   # exit 0: repaired', process.execPath, [cli, 'check'])

// The audit the backfill promised: one row per child it changed, with the old value.
process.stdout.write('\n$ SELECT user_id, old_family_id, new_family_id, reason FROM family_sync_audit\n')
const app = knexFactory({ client: 'mysql2', connection: { host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username) || 'root', password: decodeURIComponent(server.password), database, dateStrings: true } })
try {
  const [audit] = await app.raw('SELECT user_id, old_family_id, new_family_id, reason, changed_at FROM family_sync_audit ORDER BY id')
  for (const row of audit) process.stdout.write(`  user ${row.user_id}: family ${row.old_family_id ?? 'NULL'} -> ${row.new_family_id} (${row.reason}, ${row.changed_at})\n`)
  if (audit.length === 0) process.stdout.write('  (none: nothing needed repairing)\n')
} finally {
  await app.destroy()
}
step('family-sync verify', process.execPath, [cli, 'verify'])
