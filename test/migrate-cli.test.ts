import { MIGRATION_NAMES } from '../migrations/index.js'
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA, createTestDatabase, rows, serverUrl, type TestDatabase } from './helpers/database.js'
import { createFamily, insertBugReportPeople, mismatchCount } from './helpers/family.js'
import { ourObjects } from './helpers/install.js'
import { packageVersion } from '../src/paths.js'

const ALL = [...MIGRATION_NAMES]

describe('migrate up / status / down through the CLI', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await insertBugReportPeople(db.knex)
    await createFamily(db.knex, 2, 'Sela', 1)
  })
  afterAll(() => db.drop())

  it('installs everything on the seeded database, repairs it, and a rerun changes nothing', async () => {
    expect(await mismatchCount(db.knex)).toBe(2)
    const up = await runCli(['migrate', 'up', '--url', db.url])
    expect(up.stderr).not.toMatch(/Error|at .*\.js/)
    expect(up.code).toBe(0)
    expect(await mismatchCount(db.knex)).toBe(0)

    const status = await runCli(['migrate', 'status', '--json'], { env: { DATABASE_URL: db.url } })
    expect(status.code).toBe(0)
    const report = JSON.parse(status.stdout)
    expect(report).toMatchObject({ executed: ALL, pending: [], unknown: [], skew: [] })
    expect(report.migrations.map((m: { state: string; version: string }) => [m.state, m.version])).toEqual(ALL.map(() => ['executed', packageVersion()]))
    expect(report.objects.every((o: { state: string; pending: boolean; version: string; checksum: string }) => o.state === 'ok' && !o.pending && o.version === packageVersion() && /^[0-9a-f]{8}$/.test(o.checksum))).toBe(true)

    const before = await rows(db.knex, 'SELECT name, executed_at FROM family_sync_migrations ORDER BY name')
    const audit = await rows(db.knex, 'SELECT COUNT(*) AS n FROM family_sync_audit')
    const again = await runCli(['migrate', 'up', '--url', db.url])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('nothing to migrate')
    expect(await rows(db.knex, 'SELECT name, executed_at FROM family_sync_migrations ORDER BY name')).toEqual(before)
    expect(await rows(db.knex, 'SELECT COUNT(*) AS n FROM family_sync_audit')).toEqual(audit)
  })

  it('steps back one migration by default, then to the start with --to 0, keeping the audit and users', async () => {
    const usersBefore = await rows(db.knex, 'SELECT id, family_id FROM users ORDER BY id')
    const one = await runCli(['migrate', 'down', '--url', db.url])
    expect(one.code).toBe(0)
    let status = JSON.parse((await runCli(['migrate', 'status', '--json', '--url', db.url])).stdout)
    expect(status.pending).toEqual([ALL[ALL.length - 1]])

    const all = await runCli(['migrate', 'down', '--to', '0', '--url', db.url])
    expect(all.code).toBe(0)
    status = JSON.parse((await runCli(['migrate', 'status', '--json', '--url', db.url])).stdout)
    expect(status.executed).toEqual([])
    expect((await ourObjects(db.knex)).map((o) => o.name).sort()).toEqual(['family_sync_audit', 'family_sync_migrations'])
    expect(await rows(db.knex, 'SELECT id, family_id FROM users ORDER BY id')).toEqual(usersBefore)

    const up = await runCli(['migrate', 'up', '--url', db.url])
    expect(up.code).toBe(0)
  })
})

describe('concurrent migrate up', () => {
  it('six processes at once all exit 0 and each migration is recorded once', async () => {
    const db = await createTestDatabase()
    try {
      await insertBugReportPeople(db.knex)
      await createFamily(db.knex, 2, 'Sela', 1)
      const results = await Promise.all(Array.from({ length: 6 }, () => runCli(['migrate', 'up', '--url', db.url])))
      for (const result of results) expect(result.code, result.stderr).toBe(0)
      const recorded = await rows<{ name: string; n: number }>(db.knex, 'SELECT name, COUNT(*) AS n FROM family_sync_migrations GROUP BY name ORDER BY name')
      expect(recorded.map((r) => r.name)).toEqual(ALL)
      expect(recorded.every((r) => Number(r.n) === 1)).toBe(true)
      const audit = await rows<{ n: number }>(db.knex, 'SELECT COUNT(*) AS n FROM family_sync_audit')
      expect(Number(audit[0].n)).toBe(2)
      expect(results.filter((r) => r.stdout.includes('migrated 0006_backfill_family_ids'))).toHaveLength(1)
    } finally {
      await db.drop()
    }
  })
})

describe('connection failures: exit 2, one line, no password', () => {
  const secret = 'S3cret-pa55word'
  const server = new URL(serverUrl())
  const cases: Array<[string, string, RegExp]> = [
    ['wrong password', `mysql://${server.username || 'root'}:${secret}@${server.host}/mysql`, /access denied/],
    ['unknown host', `mysql://root:${secret}@no-such-host.invalid:3306/db`, /unknown host/],
    ['unknown database', `mysql://${server.username || 'root'}${server.password ? ':' + server.password : ''}@${server.host}/no_such_db_${Date.now()}`, /unknown database/],
    ['malformed URL', `mysql//root:${secret}@@localhost`, /malformed connection URL/],
    ['refused port', `mysql://root:${secret}@127.0.0.1:1/db`, /connection refused/],
  ]
  for (const [label, url, message] of cases) {
    it(label, async () => {
      const result = await runCli(['check', '--url', url])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(message)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stdout + result.stderr).not.toContain(secret)
    })
  }

  it('the password is not echoed back through DATABASE_URL either', async () => {
    const result = await runCli(['migrate', 'up'], { env: { DATABASE_URL: `mysql://root:${secret}@127.0.0.1:1/db` } })
    expect(result.code).toBe(2)
    expect(result.stdout + result.stderr).not.toContain(secret)
  })

  it('no URL at all says how to give one', async () => {
    const result = await runCli(['verify'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--url .*DATABASE_URL/)
  })
})

describe('preflight', () => {
  it('a users table without family_id: exit 2 naming users.family_id, nothing of ours created', async () => {
    const schema = [APP_SCHEMA[0], 'CREATE TABLE users (id INT PRIMARY KEY, username VARCHAR(100), parent_id INT NULL)']
    const db = await createTestDatabase({ schema })
    try {
      const result = await runCli(['migrate', 'up', '--url', db.url])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain('users.family_id')
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(await ourObjects(db.knex)).toEqual([])
    } finally {
      await db.drop()
    }
  })

  it('reports every problem at once', async () => {
    const db = await createTestDatabase({ schema: ['CREATE TABLE users (id INT PRIMARY KEY, username VARCHAR(100))'] })
    try {
      const result = await runCli(['migrate', 'up', '--url', db.url])
      expect(result.code).toBe(2)
      for (const missing of ['users.parent_id', 'users.family_id', 'families.id']) expect(result.stderr).toContain(missing)
    } finally {
      await db.drop()
    }
  })
})

describe('family-sync sql', () => {
  it('prints a script the mysql client runs as it stands, after which migrate up has nothing to do', async () => {
    const script = await runCli(['sql'])
    expect(script.code).toBe(0)
    const db = await createTestDatabase()
    try {
      await insertBugReportPeople(db.knex)
      await createFamily(db.knex, 2, 'Sela', 1)
      const server = new URL(serverUrl())
      const client = ['mariadb', 'mysql'].find((bin) => spawnSync(bin, ['--version']).status === 0)
      expect(client, 'a mariadb or mysql command-line client on PATH').toBeDefined()
      const args = ['-h', server.hostname, '-P', server.port || '3306', '-u', decodeURIComponent(server.username) || 'root', db.name]
      const run = spawnSync(client!, args, { input: script.stdout, env: { ...process.env, MYSQL_PWD: decodeURIComponent(server.password) } })
      expect(run.stderr.toString()).toBe('')
      expect(run.status).toBe(0)
      expect(await mismatchCount(db.knex)).toBe(0)
      const verify = await runCli(['verify', '--json', '--url', db.url])
      expect(JSON.parse(verify.stdout).objects.every((o: { upToDate: boolean }) => o.upToDate)).toBe(true)
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.stdout).toContain('nothing to migrate')
    } finally {
      await db.drop()
    }
  })
})

describe('usage errors', () => {
  it('unknown command, unknown flag and non-numeric --family exit 2 with one line', async () => {
    for (const args of [['frobnicate'], ['check', '--frob'], ['check', '--family', 'seven', '--url', 'mysql://x@127.0.0.1/y']]) {
      const result = await runCli(args)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
    }
  })

  it('--help and --version exit 0', async () => {
    expect((await runCli(['--help'])).code).toBe(0)
    const version = await runCli(['--version'])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})
