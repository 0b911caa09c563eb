import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import knexFactory, { type Knex } from 'knex'
import parsePrometheus from 'parse-prometheus-text-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { quoteIdentifier } from '../src/sql/identifiers.js'
import { CLI, runCli } from './helpers/cli.js'
import { APP_SCHEMA, createTestDatabase, rows, serverKnex, serverUrl, type TestDatabase } from './helpers/database.js'
import { updateBypassingTriggers } from './helpers/family.js'
import { holdDrainEvent, install } from './helpers/install.js'
import { populate } from './helpers/populate.js'
import { startServe, type Served } from './helpers/serve.js'
import type { ExtraServer } from './helpers/servers.js'
import { startSuiteServer } from './helpers/suite-build.js'
import { until } from './helpers/wait.js'
import { describeWithOwnServers } from './helpers/requires.js'

export const PROMTOOL = [process.env.PROMTOOL, '/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => p && existsSync(p))

type Families = Array<{ name: string; metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }> }>
const metric = (families: Families, name: string) => families.find((f) => f.name === name)

describe('family-sync serve', () => {
  let db: TestDatabase
  let served: Served
  const secret = 'Serve-pa55-word'
  const monitor = `fs_monitor_${process.pid % 100000}`
  const admin = serverKnex()
  let releaseEvent = async () => {}

  beforeAll(async () => {
    db = await createTestDatabase()
    // 200,000 users: 40,000 parents with 4 children each, half of the children out of step (repaired by the install).
    await populate(db.knex, 40_000, 4)
    // As installed for real: the event stays, held off so that the queue is what the tests make it, scheduler ON or OFF.
    await install(db.knex, { keepEvent: true })
    releaseEvent = await holdDrainEvent(db.name)
    await admin.raw(`CREATE USER ?@'%' IDENTIFIED BY '${secret}'`, [monitor])
    await admin.raw(`GRANT SELECT, EXECUTE ON ${quoteIdentifier(db.name)}.* TO ?@'%'`, [monitor])
    const server = new URL(serverUrl())
    // As a monitoring sidecar runs it: an account with SELECT and EXECUTE only, a password in the URL, no drain.
    const url = `mysql://${monitor}:${secret}@${server.host}/${encodeURIComponent(db.name)}`
    served = await startServe(['--url', url, '--no-drain', '--scan-interval', '3600'])
    // Whole-table figures are absent until the first scan finishes.
    const scanned = await until(async () => /^family_sync_last_scan_timestamp_seconds \d/m.test((await served.get('/metrics')).body), 60_000)
    expect(scanned).toBe(true)
  }, 180_000)
  afterAll(async () => {
    await served?.stop()
    await releaseEvent()
    await admin.raw("DROP USER IF EXISTS ?@'%'", [monitor])
    await admin.destroy()
    await db?.drop()
  })

  it('answers /healthz and /readyz; a SELECT and EXECUTE account sees everything, with no note about what it cannot see', async () => {
    expect((await served.get('/healthz')).status).toBe(200)
    const ready = await served.get('/readyz')
    expect(ready.status, ready.body).toBe(200)
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true })
    expect(ready.body).not.toMatch(/cannot|not visible|SHOW_ROUTINE|may not read/)
    const server = new URL(serverUrl())
    const url = `mysql://${monitor}:${secret}@${server.host}/${encodeURIComponent(db.name)}`
    const verify = await runCli(['verify', '--json', '--url', url])
    expect(verify.code, verify.stderr).toBe(0)
    const report = JSON.parse(verify.stdout)
    expect(report.objects.every((o: { present: boolean; upToDate: boolean; definerExists: boolean }) => o.present && o.upToDate && o.definerExists)).toBe(true)
    expect(report.notes.filter((n: string) => !/event scheduler/.test(n))).toEqual([])
    const prometheus = await runCli(['check', '--prometheus', '--url', url])
    expect(prometheus.code, prometheus.stderr).toBe(0)
    expect(prometheus.stdout).toMatch(/^family_sync_verify_problems 0$/m)
  })

  it('serves the metrics of check --prometheus and the bug report\'s own, which a real parser and promtool read', async () => {
    const scrape = await served.get('/metrics')
    expect(scrape.status).toBe(200)
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain/)
    const families = parsePrometheus(scrape.body) as Families
    for (const name of [
      'family_sync_mismatches', 'family_sync_mismatches_pending', 'family_sync_queue_pending', 'family_sync_queue_oldest_age_seconds',
      'family_sync_queue_parked', 'family_sync_ok', 'family_sync_object_present', 'family_sync_object_up_to_date',
      'family_sync_event_scheduler_on', 'family_sync_verify_problems', 'family_sync_up', 'family_sync_families',
      'family_sync_children_per_family', 'family_sync_sync_delay_seconds', 'family_sync_drain_applied_total',
      'family_sync_drain_failed_total', 'family_sync_drain_parked_total', 'family_sync_last_scan_timestamp_seconds', 'family_sync_scan_duration_seconds',
    ]) {
      expect(metric(families, name), name).toBeDefined()
    }
    expect(metric(families, 'family_sync_up')?.metrics[0].value).toBe('1')
    expect(metric(families, 'family_sync_families')?.metrics[0].value).toBe('40000')
    expect(metric(families, 'family_sync_mismatches')?.metrics[0].value).toBe('0')
    const children = metric(families, 'family_sync_children_per_family')!.metrics[0]
    expect(children.count).toBe('40000')
    expect(children.buckets?.['3']).toBe('0')
    expect(children.buckets?.['4']).toBe('40000')
    expect(scrape.body).not.toContain(secret)
    if (!PROMTOOL) {
      console.log('promtool check metrics skipped: no promtool on this machine (Debian package prometheus; .ci/run installs it)')
      return
    }
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: scrape.body, encoding: 'utf8' })
    expect(check.status, check.stdout + check.stderr).toBe(0)
  })

  it('a scrape never reads users: 50 scrapes in a row answer while another session holds users locked for writing', async () => {
    await served.get('/metrics')
    // LOCK TABLES ... WRITE keeps every other statement that reads users waiting:
    // a scrape that read it would hang here until the lock went.
    const locker = serverKnex(db.name, { min: 0, max: 1 })
    const connection = await locker.client.acquireConnection()
    try {
      await locker.raw('LOCK TABLES users WRITE').connection(connection)
      const times: number[] = []
      for (let i = 0; i < 50; i++) {
        const scrape = await served.get('/metrics', { signal: AbortSignal.timeout(20_000) })
        expect(scrape.status).toBe(200)
        expect(scrape.body).toMatch(/^family_sync_queue_pending \d/m)
        times.push(scrape.ms)
      }
      console.log(`50 scrapes on 200,000 users, users locked: median ${times.sort((a, b) => a - b)[25].toFixed(1)} ms, slowest ${times[49].toFixed(1)} ms`)
    } finally {
      await locker.raw('UNLOCK TABLES').connection(connection)
      await locker.client.releaseConnection(connection)
      await locker.destroy()
    }
  })

  it('the validate endpoint: 200 for a consistent family, 409 with its mismatches, 404 for no such family, 400 for a malformed id; other paths 404, other methods 405', async () => {
    const ok = await served.get('/families/7/validate')
    expect(ok.status, ok.body).toBe(200)
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true, mismatchCount: 0, familyId: 7, mismatches: [] })
    // Two children of parent 8 (family 8) left behind, as a missing trigger would have.
    await updateBypassingTriggers(db.knex, 'UPDATE users SET family_id = NULL WHERE parent_id = 8 ORDER BY id LIMIT 2')
    const bad = await served.get('/families/8/validate')
    expect(bad.status, bad.body).toBe(409)
    const report = JSON.parse(bad.body)
    expect(report).toMatchObject({ ok: false, mismatchCount: 2, familyId: 8 })
    expect(report.mismatches.map((m: { parentId: number }) => m.parentId)).toEqual([8, 8])
    // A family's answer depends on that family only.
    expect((await served.get('/families/7/validate')).status).toBe(200)
    expect((await served.get('/families/999999/validate')).status).toBe(404)
    for (const id of ['abc', '-1', '1.5', '99999999999999999999', '%20']) {
      const answer = await served.get(`/families/${id}/validate`)
      expect(answer.status, id).toBe(400)
      expect(JSON.parse(answer.body).error).toMatch(/not a family id/)
    }
    expect((await served.get('/nope')).status).toBe(404)
    const post = await served.get('/metrics', { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
    for (const answer of [bad, post]) expect(answer.body).not.toMatch(/at .*\.js|Error:|node:internal/)
    expect(served.output()).not.toContain(secret)
    await runCli(['repair', '--url', db.url])
  })

  it("observes every entry any process applies: a drain run elsewhere shows in the delay histogram and the applied count", async () => {
    const before = parsePrometheus((await served.get('/metrics')).body) as Families
    const appliedBefore = Number(metric(before, 'family_sync_drain_applied_total')?.metrics[0].value)
    await db.knex.raw('UPDATE users SET family_id = family_id + 1 WHERE id IN (1, 2, 3)')
    expect((await runCli(['drain', '--url', db.url])).stdout).toContain('drained 3 queued parents')
    const seen = await until(async () => {
      const families = parsePrometheus((await served.get('/metrics')).body) as Families
      return Number(metric(families, 'family_sync_drain_applied_total')?.metrics[0].value) === appliedBefore + 3
    }, 5000)
    expect(seen).toBe(true)
    const after = parsePrometheus((await served.get('/metrics')).body) as Families
    expect(Number(metric(after, 'family_sync_sync_delay_seconds')!.metrics[0].count)).toBe(appliedBefore + 3)
  })

  it('counts what drains fail and park: an entry the application refuses five times is 5 failures and 1 parked, once each', async () => {
    const own = await createTestDatabase()
    let counting: Served | undefined
    try {
      // The application's own rule: a display name is unique within a family.
      await own.knex.raw('ALTER TABLE users ADD UNIQUE KEY users_family_username (family_id, username)')
      await own.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
      await own.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'Sam', 1), (10, 'P', 2)")
      await own.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (11, 'Sam', 10)")
      await install(own.knex)
      counting = await startServe(['--url', own.url, '--no-drain', '--scan-interval', '3600'])
      const counters = async () => {
        const families = parsePrometheus((await counting!.get('/metrics')).body) as Families
        return ['family_sync_drain_failed_total', 'family_sync_drain_parked_total', 'family_sync_drain_applied_total'].map((name) => Number(metric(families, name)?.metrics[0].value))
      }
      expect(await counters()).toEqual([0, 0, 0])
      // P joins family 1, where a Sam already is: moving P's Sam there breaks the unique key, every time.
      await own.knex.raw('UPDATE users SET family_id = 1 WHERE id = 10')
      for (let attempt = 1; attempt <= 5; attempt++) {
        await own.knex.raw('UPDATE family_sync_queue SET retry_at = NULL')
        await runCli(['drain', '--url', own.url])
      }
      const [entry] = await rows<{ attempts: number; parked: number }>(own.knex, 'SELECT attempts, parked_at IS NOT NULL AS parked FROM family_sync_queue')
      expect(entry).toEqual({ attempts: 5, parked: 1 })
      const counted = await until(async () => (await counters()).join() === '5,1,0', 10_000)
      expect(await counters(), 'failed, parked, applied').toEqual([5, 1, 0])
      expect(counted).toBe(true)
      // Parked, it is not tried again: the counts stay.
      await runCli(['drain', '--url', own.url])
      expect(await counters()).toEqual([5, 1, 0])
    } finally {
      await counting?.stop()
      await own.drop()
    }
  })

  it('check --prometheus --output writes the file whole, and leaves it as it was when check cannot run', async () => {
    const { mkdtempSync, readFileSync, readdirSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'family-sync-textfile-'))
    try {
      const file = join(dir, 'family_sync.prom')
      const written = await runCli(['check', '--prometheus', '--output', file, '--url', db.url])
      expect(written.code, written.stderr).toBe(0)
      expect(written.stdout).toBe('')
      const text = readFileSync(file, 'utf8')
      expect(text).toMatch(/^family_sync_mismatches 0$/m)
      const failed = await runCli(['check', '--prometheus', '--output', file, '--url', `mysql://root:${secret}@127.0.0.1:1/x`])
      expect(failed.code).toBe(2)
      expect(readFileSync(file, 'utf8')).toBe(text)
      expect(readdirSync(dir)).toEqual(['family_sync.prom'])
      expect(failed.stdout + failed.stderr).not.toContain(secret)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('serve as a process', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await install(db.knex, { keepEvent: true })
  })
  afterAll(() => db?.drop())

  it('SIGTERM finishes the call in hand, closes the listener and exits 0 within 5 s', async () => {
    const served = await startServe(['--url', db.url, '--allow-privileged-account'])
    expect((await served.get('/healthz')).status).toBe(200)
    const { code, ms } = await served.stop()
    expect(code, served.output()).toBe(0)
    expect(ms).toBeLessThan(5000)
    expect(served.output()).toMatch(/stopping \(SIGTERM\): finishing the call in hand\nstopped\n$/)
    await expect(fetch(served.base + '/healthz')).rejects.toThrow()
  })

  it('exits when its parent dies, as under npx: no orphan keeps draining', async () => {
    // A parent that starts serve and is then killed outright, as npm exec is on SIGTERM.
    const parent = spawn(process.execPath, ['-e', `require('node:child_process').spawn(process.execPath, [${JSON.stringify(CLI)}, 'serve', '--listen', '127.0.0.1:0', '--allow-privileged-account', '--url', ${JSON.stringify(db.url)}], { stdio: 'inherit' }); setInterval(() => {}, 1000)`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    parent.stdout.on('data', (chunk) => (output += chunk))
    expect(await until(async () => /serving http/.test(output), 15_000)).toBe(true)
    const child = Number(spawnSync('pgrep', ['-P', String(parent.pid)], { encoding: 'utf8' }).stdout.trim())
    expect(child).toBeGreaterThan(0)
    parent.kill('SIGKILL')
    const gone = await until(async () => {
      try {
        process.kill(child, 0)
        return false
      } catch {
        return true
      }
    }, 5000)
    expect(gone).toBe(true)
  })
})

describeWithOwnServers()('serve across a database restart', () => {
  let server: ExtraServer
  let app: Knex
  beforeAll(async () => {
    server = await startSuiteServer()
    const admin = knexFactory({ client: 'mysql2', connection: server.url, pool: { min: 0, max: 1 } })
    await admin.raw('CREATE DATABASE app')
    await admin.destroy()
    app = knexFactory({ client: 'mysql2', connection: `${server.url}/app`, pool: { min: 0, max: 2 } })
    for (const ddl of APP_SCHEMA) await app.raw(ddl)
    await app.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
    await app.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
    await app.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1)")
    expect((await runCli(['migrate', 'up', '--url', `${server.url}/app`])).code).toBe(0)
  }, 120_000)
  afterAll(async () => {
    await app?.destroy()
    await server?.remove()
  })

  it('answers 503 while the database is down, with family_sync_up 0, and drains again once it is back', async () => {
    const served = await startServe(['--url', `${server.url}/app`, '--allow-privileged-account', '--scan-interval', '3600'])
    try {
      expect((await served.get('/readyz')).status).toBe(200)
      await app.destroy()
      await server.stop()
      const ready = await served.get('/readyz')
      expect(ready.status).toBe(503)
      // Refused connections once it is gone; a statement that reaches it while it stops meets its shutdown.
      expect(JSON.parse(ready.body).problems.join(' ')).toMatch(/connection refused|lost|shutdown in progress/i)
      const validate = await served.get('/families/1/validate')
      expect(validate.status, validate.body + served.output()).toBe(503)
      expect((await served.get('/metrics')).body).toMatch(/^family_sync_up 0$/m)
      expect((await served.get('/healthz')).status).toBe(200)

      await server.start()
      app = knexFactory({ client: 'mysql2', connection: `${server.url}/app`, pool: { min: 0, max: 2 } })
      expect(await until(async () => (await served.get('/readyz')).status === 200, 20_000)).toBe(true)
      expect((await served.get('/metrics')).body).toMatch(/^family_sync_up 1$/m)
      await app.raw('UPDATE users SET family_id = 2 WHERE id = 1')
      const followed = await until(async () => {
        const [[row]] = (await app.raw('SELECT family_id FROM users WHERE id = 2')) as [[{ family_id: number }]]
        return row.family_id === 2
      }, 20_000)
      expect(followed).toBe(true)
      expect(served.output()).toMatch(/lost the connection to .*; reconnecting/)
    } finally {
      const { code } = await served.stop()
      expect(code).toBe(0)
    }
  }, 120_000)
})
