import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { isInterruptedTriggerLoad } from '../src/db/retry.js'
import { isRetryableWriteError } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import { updateBypassingTriggers } from './helpers/family.js'
import type { ExtraServer } from './helpers/servers.js'
import { cannotStartServers, startSuiteServer, suiteBuild } from './helpers/suite-build.js'
import { describeWhen } from './helpers/requires.js'

// MariaDB parses a table's triggers whenever a statement opens the table
// afresh. A statement interrupted during that parse (KILL QUERY here; on
// Galera, a certification conflict) fails with error 1064 "Trigger ... has an
// error in its body" although the trigger is intact. The Galera cluster test
// met it as application writes failing with that error while other nodes
// wrote the same rows. These tests run on a server of their own: they flush
// tables and kill queries many times a second, and edit a trigger file.
// MySQL keeps triggers in its data dictionary, not in .TRG files read on
// table open, and reports such a statement as interrupted: there is nothing
// of this to reproduce there.
const why = cannotStartServers() ?? (suiteBuild()?.engine === 'mysql' ? 'MySQL loads triggers from its data dictionary: an interrupted statement fails as interrupted, never with 1064, and there is no .TRG file to break' : undefined)
describeWhen(!why, why ?? '')('a statement interrupted while the server loads the triggers of users', () => {
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
    server = await startSuiteServer()
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

  it('fails with 1064 instead of its interruption and is retryable; when MariaDB keeps the failed load, the drain that meets it cures it', async () => {
    // Work for the drain once writes fail: two of parent 7's children left behind (bypassing the triggers).
    await updateBypassingTriggers(app, 'UPDATE users SET family_id = NULL WHERE id IN (1006, 1036)')
    const seen = { interrupted: 0, triggerLoad: 0, deadlocks: 0, other: [] as string[], rounds: 0 }
    const connections = await Promise.all([0, 1, 2].map(() => app.client.acquireConnection()))
    let kept = false
    try {
      const ids = await Promise.all(connections.map(async (c) => ((await app.raw('SELECT CONNECTION_ID() AS id').connection(c)) as [[{ id: number }]])[0][0].id))
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline && !kept) {
        seen.rounds++
        let stop = false
        let loads = 0
        const writers = connections.map(async (connection) => {
          while (!stop) {
            try {
              // Any write opens users and its triggers; one that queues nothing keeps the queue to what the test puts there.
              await app.raw("UPDATE users SET username = CONCAT('p', ?) WHERE id = ?", [pick(40), pick(30)]).connection(connection)
            } catch (error) {
              const e = error as { errno?: number; message: string }
              if (e.errno === 1317) seen.interrupted++
              else if (isInterruptedTriggerLoad(error)) loads++
              else if (e.errno === 1213) seen.deadlocks++
              else seen.other.push(`${e.errno}: ${e.message}`)
              expect(isRetryableWriteError(error) || e.errno === 1317).toBe(true)
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
        kept = await fresh.raw('UPDATE users SET username = username WHERE id = 2').then(() => false, (error) => isInterruptedTriggerLoad(error))
        await fresh.destroy()
        if (!kept) await admin.raw('FLUSH TABLES app.users')
      }
      console.log(`interrupted statements: ${seen.interrupted} reported as interrupted, ${seen.triggerLoad} as a trigger with an error in its body, ${seen.deadlocks} deadlocks; the failed load was kept after ${seen.rounds} rounds: ${kept}`)
      expect(seen.other).toEqual([])
      expect(seen.triggerLoad).toBeGreaterThan(0)
      expect(kept).toBe(true)

      // Every write on users fails now, from any connection, until something flushes it. The drain
      // meets it applying parent 7's entry, flushes users (its definer, root, has RELOAD), and the
      // entry goes through a second later. The test itself flushes nothing from here on.
      await expect(app.raw('UPDATE users SET username = username WHERE id = 2').connection(connections[1])).rejects.toSatisfy(isInterruptedTriggerLoad)
      await admin.raw('INSERT INTO app.family_sync_queue (parent_id, family_id) VALUES (7, 7)')
      const met = await runCli(['drain', '--url', url()])
      expect(met.code, met.stderr).toBe(0)
      expect(met.stdout).toMatch(/1 entries failed and will be retried/)
      const [entry] = await queue()
      expect(entry).toMatchObject({ attempts: 0, parked: 0 })
      expect(entry.last_error).toMatch(/has an error in its body/)
      for (const connection of connections) await app.raw('UPDATE users SET username = username WHERE id = 2').connection(connection)
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const applied = await runCli(['drain', '--url', url()])
      expect(applied.stdout).toContain('drained 1 queued parents')
      expect(await queue()).toEqual([])
      const [[{ behind }]] = (await app.raw('SELECT COUNT(*) AS behind FROM users WHERE parent_id = 7 AND NOT (family_id <=> 7)')) as [[{ behind: number }]]
      expect(Number(behind)).toBe(0)
      const healed = await runCli(['verify', '--json', '--url', url()])
      expect(healed.code, healed.stdout).toBe(0)
    } finally {
      for (const connection of connections) await app.client.releaseConnection(connection)
    }
  }, 120_000)

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
    // The AFTER UPDATE trigger's own queue insert: the first after its definition begins in the file.
    const at = intact.indexOf('INSERT INTO family_sync_queue', intact.indexOf('TRIGGER sync_children_family_id\\nAFTER UPDATE'))
    expect(at).toBeGreaterThan(0)
    writeFileSync(file, intact.slice(0, at) + 'INSERT INTO INTO' + intact.slice(at + 'INSERT INTO'.length))
    await admin.raw('FLUSH TABLES app.users')
    try {
      await expect(app.raw('UPDATE users SET username = username WHERE id = 2')).rejects.toMatchObject({ errno: 1064 })
      // verify looks for it (with a rolled-back write) only once a drain has met it; the edited body itself it reports at once.
      const early = await runCli(['verify', '--url', url()])
      expect(early.code).toBe(1)
      expect(early.stdout).toMatch(/sync_children_family_id differs from triggers/)
      expect(early.stdout).not.toMatch(/every write on users fails/)
      for (let round = 0; round < 7; round++) {
        const drain = await runCli(['drain', '--url', url()])
        expect(drain.code, drain.stderr).toBe(0)
        expect(drain.stdout).toMatch(/drained 0 queued parents.*\n1 entries failed and will be retried/)
        await admin.raw('UPDATE app.family_sync_queue SET retry_at = NULL')
      }
      const [entry] = await queue()
      expect(entry).toMatchObject({ attempts: 0, parked: 0 })
      expect(entry.last_error).toMatch(/^error 1064: Trigger 'sync_children_family_id' has an error in its body/)
      const verify = await runCli(['verify', '--json', '--url', url()])
      expect(verify.code).toBe(1)
      expect(JSON.parse(verify.stdout).problems.join(' ')).toMatch(/every write on users fails on this server: Trigger 'sync_children_family_id' has an error in its body.*FLUSH TABLES users/s)

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
