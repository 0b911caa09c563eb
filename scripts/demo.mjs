// `npm run demo`: the bug report and its fix in a minute. Creates the database
// named by DATABASE_URL if needed (family_sync_demo when the URL names only a
// server, and by default on the local server), seeds the bug report's state,
// shows the mismatch, runs `family-sync migrate up`, and shows that the
// children followed.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import knexFactory from 'knex'
import { driverOptions } from '../dist/src/connection/options.js'
import { withPasswordFile } from '../dist/src/connection/password-file.js'
import { parseDatabaseUrl, redactUrl } from '../dist/src/connection/url.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const DEFAULT_DATABASE = 'family_sync_demo'
let url = process.env.DATABASE_URL ?? `mysql://root@127.0.0.1:3306/${DEFAULT_DATABASE}`
let target
try {
  target = withPasswordFile(parseDatabaseUrl(url), process.env.DATABASE_PASSWORD_FILE)
} catch (error) {
  process.stderr.write(`demo: ${error.message}\n`)
  process.exit(2)
}
if (target.database === undefined) {
  // mysql://root@127.0.0.1:3306 names a server, as people often write it: the demo gets a database of its own there.
  const withDatabase = new URL(url)
  withDatabase.pathname = `/${DEFAULT_DATABASE}`
  url = withDatabase.toString()
  target = { ...target, database: DEFAULT_DATABASE }
}
const env = { ...process.env, DATABASE_URL: url }
const database = target.database
const hidden = redactUrl(url)

function step(title, command, args, okCodes = [0]) {
  process.stdout.write(`\n$ ${title}\n`)
  const run = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' })
  if (!okCodes.includes(run.status)) {
    process.stderr.write(`demo: '${title}' exited ${run.status}\n`)
    process.exit(run.status ?? 2)
  }
}

const admin = knexFactory({ client: 'mysql2', connection: driverOptions({ ...target, database: undefined }) })
try {
  await admin.raw('CREATE DATABASE IF NOT EXISTS ??', [database])
} catch (error) {
  process.stderr.write(`demo: cannot create database '${database}' at ${target.socketPath ?? `${target.host}:${target.port}`}: ${error.code ?? error.message}; set DATABASE_URL=mysql://user:password@host:port/database\n`)
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
const app = knexFactory({ client: 'mysql2', connection: driverOptions(target) })
try {
  const [audit] = await app.raw('SELECT user_id, old_family_id, new_family_id, reason, changed_at FROM family_sync_audit ORDER BY id')
  for (const row of audit) process.stdout.write(`  user ${row.user_id}: family ${row.old_family_id ?? 'NULL'} -> ${row.new_family_id} (${row.reason}, ${row.changed_at})\n`)
  if (audit.length === 0) process.stdout.write('  (none: nothing needed repairing)\n')
} finally {
  await app.destroy()
}
step('family-sync verify', process.execPath, [cli, 'verify'])
