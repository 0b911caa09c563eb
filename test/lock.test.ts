import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lockNameFor } from '../src/migrator/lock.js'
import { createMigrator } from '../src/migrator/create-migrator.js'
import { until } from './helpers/wait.js'
import { holdDrainEvent } from './helpers/install.js'
import { runCli, startCli } from './helpers/cli.js'
import { populate } from './helpers/populate.js'
import { createTestDatabase, serverKnex, type TestDatabase } from './helpers/database.js'

describe('the migration lock', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(() => db.drop())

  it('a migrate up that cannot get the lock in time exits 2 naming the holder connection id', async () => {
    const holder = serverKnex(db.name)
    try {
      const connection = await holder.client.acquireConnection()
      const [[{ got }]] = (await holder.raw('SELECT GET_LOCK(?, 10) AS got', [lockNameFor(db.name)]).connection(connection)) as [[{ got: number }]]
      expect(got).toBe(1)
      const [[{ id }]] = (await holder.raw('SELECT CONNECTION_ID() AS id').connection(connection)) as [[{ id: number }]]
      const started = Date.now()
      const result = await runCli(['migrate', 'up', '--lock-timeout', '1', '--url', db.url])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`connection id ${id}`)
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(Date.now() - started).toBeLessThan(10_000)
      await holder.client.releaseConnection(connection)
    } finally {
      await holder.destroy()
    }
    // Nothing ran while the lock was held elsewhere.
    const [[{ n }]] = (await db.knex.raw("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'family\\_sync%'")) as [[{ n: number }]]
    expect(Number(n)).toBe(0)
  })

  it('a holder killed with SIGKILL loses the lock with its session: no manual unlock', async () => {
    const script = `
      import knexFactory from 'knex'
      const knex = knexFactory({ client: 'mysql2', connection: process.env.LOCK_DB })
      const [[row]] = await knex.raw('SELECT GET_LOCK(?, 5) AS got', [process.env.LOCK_NAME])
      console.log('locked ' + row.got)
      setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, LOCK_DB: db.url, LOCK_NAME: lockNameFor(db.name) },
      cwd: process.cwd(),
    })
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => (String(chunk).includes('locked 1') ? resolve() : reject(new Error(String(chunk)))))
      child.on('error', reject)
    })
    const blocked = await runCli(['migrate', 'up', '--lock-timeout', '1', '--url', db.url])
    expect(blocked.code).toBe(2)
    child.kill('SIGKILL')
    await new Promise((resolve) => child.on('close', resolve))
    const started = Date.now()
    const result = await runCli(['migrate', 'up', '--lock-timeout', '20', '--url', db.url])
    expect(result.code, result.stderr).toBe(0)
    expect(Date.now() - started).toBeLessThan(15_000)
  })

  it('two databases on one server have different locks', () => {
    expect(lockNameFor('a')).not.toBe(lockNameFor('b'))
    const long = 'x'.repeat(64)
    expect(lockNameFor(long).length).toBeLessThanOrEqual(64)
    expect(lockNameFor(long)).not.toBe(lockNameFor('y'.repeat(64)))
  })
})

describe('lock integrity', () => {
  it('whether anything is pending is decided while holding the lock', async () => {
    const db = await createTestDatabase()
    const holder = serverKnex(db.name)
    try {
      const first = await runCli(['migrate', 'up', '--url', db.url])
      expect(first.code, first.stderr).toBe(0)
      // Another migrate (a down, say) holds the lock; while it does, it removes a trigger.
      const connection = await holder.client.acquireConnection()
      await holder.raw('SELECT GET_LOCK(?, 5)', [lockNameFor(db.name)]).connection(connection)
      const waiting = runCli(['migrate', 'up', '--lock-timeout', '30', '--url', db.url])
      // The second migrate is waiting for the lock: its GET_LOCK shows in the processlist.
      const queued = await until(async () => {
        const [[row]] = (await db.knex.raw(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE = 'User lock' AND INFO LIKE '%GET_LOCK%'",
          [db.name],
        )) as [[{ n: number }]]
        return Number(row.n) > 0
      }, 20_000)
      expect(queued).toBe(true)
      await db.knex.raw('DROP TRIGGER inherit_parent_family_id_on_insert')
      await holder.raw('SELECT RELEASE_LOCK(?)', [lockNameFor(db.name)]).connection(connection)
      await holder.client.releaseConnection(connection)
      const up = await waiting
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).not.toContain('nothing to migrate')
      expect(up.stdout).toContain('installed trigger inherit_parent_family_id_on_insert (missing)')
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
    } finally {
      await holder.destroy()
      await db.drop()
    }
  })

  it('a lock lost with a dropped connection stops the run with exit 2; a rerun completes with exact audit rows', async () => {
    const db = await createTestDatabase()
    const admin = serverKnex()
    try {
      await populate(db.knex, 4000, 5)
      const child = startCli(['migrate', 'up', '--batch-ms', '5', '--url', db.url])
      let stderr = ''
      child.stderr.on('data', (chunk) => (stderr += chunk))
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
      // Once the backfill is writing, the server drops the migrating connection.
      const deadline = Date.now() + 30_000
      let killed = false
      while (!killed && Date.now() < deadline) {
        const [[{ n }]] = (await db.knex.raw('SELECT COUNT(*) AS n FROM family_sync_audit').catch(() => [[{ n: 0 }]])) as [[{ n: number }]]
        if (Number(n) > 0) {
          const [sessions] = (await admin.raw("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND INFO LIKE '/* family-sync */%'", [db.name])) as [Array<{ id: number }>]
          for (const { id } of sessions) await admin.raw(`KILL CONNECTION ${Number(id)}`).catch(() => {})
          killed = sessions.length > 0
        }
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      expect(killed).toBe(true)
      expect(await closed).toBe(2)
      // Which of the two sees it first depends on timing: the statement on the dropped
      // connection, or the lock check before the next step. Both stop with exit 2 and say to rerun.
      expect(stderr.trim().split('\n').at(-1)).toMatch(/connection .* was lost.*lock went with it.*run the command again|lost the migration lock .*the connection holding it is gone.*run migrate up again/)
      const rerun = await runCli(['migrate', 'up', '--url', db.url])
      expect(rerun.code, rerun.stderr).toBe(0)
      const [[{ twice }]] = (await db.knex.raw('SELECT COUNT(*) AS twice FROM (SELECT user_id FROM family_sync_audit GROUP BY user_id HAVING COUNT(*) > 1) d')) as [[{ twice: number }]]
      expect(Number(twice)).toBe(0)
      const [[{ audited }]] = (await db.knex.raw('SELECT COUNT(*) AS audited FROM family_sync_audit')) as [[{ audited: number }]]
      expect(Number(audited)).toBe(10_000)
    } finally {
      await admin.destroy()
      await db.drop()
    }
  }, 120_000)

  it('a session the server would drop when idle stays alive through a long backfill: its work keeps it busy', async () => {
    // Only a backfill that outlasts wait_timeout (1 s) twice over proves anything, and how many
    // rows take that long depends on the server (MySQL ships with a flush to disk per commit):
    // a run that ends sooner proves nothing, so it is run again on four times the rows.
    const { default: knexFactory } = await import('knex')
    for (let parents = 8_000; ; parents *= 4) {
      expect(parents, 'no backfill outlasted 2 s').toBeLessThanOrEqual(128_000)
      const db = await createTestDatabase()
      const short = knexFactory({
        client: 'mysql2',
        connection: db.url,
        pool: { min: 0, max: 1, afterCreate: (conn: { query: (sql: string, cb: (e: Error | null) => void) => void }, done: (e: Error | null, c: unknown) => void) => conn.query('SET SESSION wait_timeout = 1', (e) => done(e, conn)) },
      })
      // The event (scheduler ON) would drain beside the backfill and slow its small batches down.
      const releaseEvent = await holdDrainEvent(db.name)
      try {
        await populate(db.knex, parents, 6)
        const started = Date.now()
        await createMigrator(short, { batchMs: 10 }).up()
        const [[{ n }]] = (await db.knex.raw('SELECT COUNT(*) AS n FROM family_sync_audit')) as [[{ n: number }]]
        expect(Number(n)).toBe(parents * 3)
        if (Date.now() - started > 2000) return
      } finally {
        await releaseEvent()
        await short.destroy()
        await db.drop()
      }
    }
  }, 300_000)
})
