import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lockNameFor } from '../src/migrator/lock.js'
import { runCli } from './helpers/cli.js'
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
