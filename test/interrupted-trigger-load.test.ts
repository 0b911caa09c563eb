import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isRetryableWriteError } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import { updateBypassingTriggers } from './helpers/family.js'
import { MARIADBD, startServer, type ExtraServer } from './helpers/servers.js'

// MariaDB parses a table's triggers whenever a statement opens the table
// afresh. A statement interrupted during that parse (KILL QUERY here; on
// Galera, a certification conflict) fails with error 1064 "Trigger ... has an
// error in its body" although the trigger is intact. The Galera cluster test
// met it as application writes failing with that error while other nodes
// wrote the same rows. These tests run on a server of their own: they flush
// tables and kill queries many times a second, and edit a trigger file.
describe.skipIf(!MARIADBD)('a statement interrupted while the server loads the triggers of users', () => {
  let server: ExtraServer
  let admin: Knex
  let app: Knex
  const url = () => `${server.url}/app`
  const pick = (n: number) => 1 + Math.floor(Math.random() * n)

  async function queue(): Promise<Array<{ attempts: number; parked: number; last_error: string | null }>> {
    const [rows] = (await admin.raw('SELECT attempts, parked_at IS NOT NULL AS parked, last_error FROM app.family_sync_queue')) as [Array<{ attempts: number; parked: number; last_error: string | null }>]
    return rows
  }

  beforeAll(async () => {
    server = await startServer()
    admin = knexFactory({ client: 'mysql2', connection: server.url, pool: { min: 0, max: 4 } })
    await admin.raw('CREATE DATABASE app')
    app = knexFactory({ client: 'mysql2', connection: url(), pool: { min: 0, max: 8 } })
    for (const ddl of APP_SCHEMA) await app.raw(ddl)
    await app.raw(`INSERT INTO families (id, name) VALUES ${Array.from({ length: 40 }, (_, i) => `(${i + 1}, 'f')`).join(', ')}`)
    await app.raw(`INSERT INTO users (id, username, family_id) VALUES ${Array.from({ length: 30 }, (_, i) => `(${i + 1}, 'p', ${i + 1})`).join(', ')}`)
    await app.raw(`INSERT INTO users (id, username, parent_id) VALUES ${Array.from({ length: 120 }, (_, i) => `(${1000 + i}, 'c', ${(i % 30) + 1})`).join(', ')}`)
    const up = await runCli(['migrate', 'up', '--url', url()])
    expect(up.code, up.stderr).toBe(0)
  }, 120_000)
  afterAll(async () => {
    await app?.destroy()
    await admin?.destroy()
    await server?.remove()
  })

  it('fails with 1064 instead of its interruption and is retryable; when MariaDB keeps the failed load, verify names it and the drain cures it', async () => {
    const seen = { interrupted: 0, triggerLoad: 0, other: [] as string[], kept: 0 }
    const connections = await Promise.all([0, 1, 2].map(() => app.client.acquireConnection()))
    try {
      const ids = await Promise.all(connections.map(async (c) => ((await app.raw('SELECT CONNECTION_ID() AS id').connection(c)) as [[{ id: number }]])[0][0].id))
      const deadline = Date.now() + 40_000
      while (Date.now() < deadline && (seen.triggerLoad < 20 || seen.kept === 0)) {
        let stop = false
        let loads = 0
        const writers = connections.map(async (connection) => {
          while (!stop) {
            try {
              await app.raw('UPDATE users SET family_id = ? WHERE id = ?', [pick(40), pick(30)]).connection(connection)
            } catch (error) {
              const e = error as { errno?: number; message: string }
              if (e.errno === 1317) seen.interrupted++
              else if (isRetryableWriteError(error)) loads++
              else seen.other.push(`${e.errno}: ${e.message}`)
            }
          }
        })
        // Every statement opens users afresh (FLUSH), and some are interrupted.
        while (Date.now() < deadline && loads < 20) {
          await admin.raw('FLUSH TABLES app.users')
          await admin.raw(`KILL QUERY ${ids[pick(ids.length) - 1]}`).catch(() => {})
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3))
        }
        stop = true
        await Promise.all(writers)
        seen.triggerLoad += loads
        // Nothing interrupts anything now: does a fresh connection's write go through?
        const fresh = knexFactory({ client: 'mysql2', connection: url(), pool: { min: 0, max: 1 } })
        const kept = await fresh.raw('UPDATE users SET username = username WHERE id = 2').then(() => false, (error) => isRetryableWriteError(error))
        await fresh.destroy()
        if (kept) {
          seen.kept++
          const verify = await runCli(['verify', '--json', '--url', url()])
          expect(verify.code).toBe(1)
          expect(JSON.parse(verify.stdout).problems.join(' ')).toMatch(/every write on users fails on this server: .*has an error in its body.*FLUSH TABLES users/s)
          // The drain cures it when its definer may FLUSH (here root's).
          const drain = await runCli(['drain', '--url', url()])
          expect(drain.code, drain.stderr).toBe(0)
          await app.raw('UPDATE users SET username = username WHERE id = 2').connection(connections[0])
        }
        await admin.raw('FLUSH TABLES app.users')
      }
      const healed = await runCli(['verify', '--json', '--url', url()])
      expect(healed.code, healed.stdout).toBe(0)
      for (const connection of connections) await app.raw('UPDATE users SET username = username WHERE id = 2').connection(connection)
    } finally {
      for (const connection of connections) await app.client.releaseConnection(connection)
    }
    console.log(`interrupted statements: ${seen.interrupted} reported as interrupted, ${seen.triggerLoad} as a trigger with an error in its body; the failed load was kept for every later write ${seen.kept} times`)
    expect(seen.other).toEqual([])
    expect(seen.triggerLoad).toBeGreaterThan(0)
  }, 90_000)

  it('a trigger that does not load: the drain keeps the entry unparked with the error, repair gives up at once, and both recover once it loads', async () => {
    // A child left behind, and its parent's entry in the queue.
    await app.raw('UPDATE users SET family_id = 7 WHERE id = 1')
    await runCli(['drain', '--url', url()])
    await updateBypassingTriggers(app, 'UPDATE users SET family_id = NULL WHERE id IN (1000, 1001)')
    await app.raw('INSERT INTO family_sync_queue (parent_id, family_id) VALUES (1, 7)')

    // What a trigger the server cannot parse looks like (as after a server
    // upgrade that changed the grammar): an edited trigger file.
    const file = join(server.datadir, 'app', 'users.TRG')
    const intact = readFileSync(file, 'utf8')
    writeFileSync(file, intact.replace('INSERT INTO family_sync_queue', 'INSERT INTO INTO family_sync_queue'))
    await admin.raw('FLUSH TABLES app.users')
    try {
      await expect(app.raw('UPDATE users SET username = username WHERE id = 2')).rejects.toMatchObject({ errno: 1064 })
      const verify = await runCli(['verify', '--json', '--url', url()])
      expect(verify.code).toBe(1)
      expect(JSON.parse(verify.stdout).problems.join(' ')).toMatch(/every write on users fails on this server: Trigger 'sync_children_family_id' has an error in its body.*FLUSH TABLES users/s)

      for (let round = 0; round < 7; round++) {
        const drain = await runCli(['drain', '--url', url()])
        expect(drain.code, drain.stderr).toBe(0)
        expect(drain.stdout).toMatch(/drained 0 queued parents.*\n1 entries failed and will be retried/)
        await admin.raw('UPDATE app.family_sync_queue SET retry_at = NULL')
      }
      const [entry] = await queue()
      expect(entry).toMatchObject({ attempts: 0, parked: 0 })
      expect(entry.last_error).toMatch(/^error 1064: Trigger 'sync_children_family_id' has an error in its body/)

      const started = Date.now()
      const repair = await runCli(['repair', '--url', url()])
      expect(repair.code, repair.stdout).toBe(2)
      expect(repair.stderr).toMatch(/has an error in its body/)
      expect(Date.now() - started).toBeLessThan(20_000)
    } finally {
      writeFileSync(file, intact)
      await admin.raw('FLUSH TABLES app.users')
    }

    await admin.raw('UPDATE app.family_sync_queue SET retry_at = NULL')
    const drain = await runCli(['drain', '--url', url()])
    expect(drain.code, drain.stderr).toBe(0)
    expect(await queue()).toEqual([])
    const [[child]] = (await app.raw('SELECT family_id FROM users WHERE id = 1000')) as [[{ family_id: number }]]
    expect(child.family_id).toBe(7)
    const repair = await runCli(['repair', '--url', url()])
    expect(repair.code, repair.stderr).toBe(0)
    const check = await runCli(['check', '--url', url()])
    expect(check.code, check.stdout).toBe(0)
  }, 120_000)
})
