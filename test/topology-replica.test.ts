import { afterAll, beforeAll, expect, it } from 'vitest'
import { checkConsistency } from '../src/library.js'
import { until } from './helpers/wait.js'
import { eventRunEnded } from './helpers/install.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import { updateBypassingTriggers } from './helpers/family.js'
import { startSuiteServer } from './helpers/suite-build.js'
import { admin, exec, startReplicaPair, type ReplicaPair } from './helpers/topology.js'
import type { Knex } from 'knex'
import { describeWithOwnServers } from './helpers/requires.js'

const DEPLOYER = "'deployer'@'%'"
const GRANTS = 'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, TRIGGER, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, EVENT'

async function rowsOf(knex: Knex, sql: string): Promise<Array<Record<string, unknown>>> {
  const [rows] = (await knex.raw(sql)) as [Array<Record<string, unknown>>]
  return rows
}

/** Everything family-sync writes, as the primary and the replica hold it. */
async function snapshot(url: string): Promise<Record<string, unknown>> {
  const knex = admin(url, 'app')
  try {
    return {
      users: await rowsOf(knex, 'SELECT id, parent_id, family_id FROM users ORDER BY id'),
      audit: await rowsOf(knex, 'SELECT id, user_id, old_family_id, new_family_id, reason, changed_at FROM family_sync_audit ORDER BY id'),
      queue: await rowsOf(knex, 'SELECT * FROM family_sync_queue ORDER BY id'),
    }
  } finally {
    await knex.destroy()
  }
}

describeWithOwnServers()('a GTID primary and replica, binlog_format=MIXED', () => {
  let pair: ReplicaPair
  let primaryApp: Knex
  let replicaApp: Knex
  const url = (server: { url: string }, user = 'root') => (user === 'root' ? `${server.url}/app` : `${server.url.replace('mysql://root', 'mysql://deployer:Dep-pw-1')}/app`)
  const familyOn = async (knex: Knex, id: number) => (await rowsOf(knex, `SELECT family_id FROM users WHERE id = ${id}`))[0].family_id

  beforeAll(async () => {
    pair = await startReplicaPair('MIXED')
    // MySQL has no CREATE OR REPLACE TRIGGER: its deployer also needs LOCK TABLES.
    const grants = pair.primary.build.engine === 'mysql' ? `${GRANTS}, LOCK TABLES` : GRANTS
    await exec(pair.primary.url, 'CREATE DATABASE app', `CREATE USER ${DEPLOYER} IDENTIFIED BY 'Dep-pw-1'`, `GRANT ${grants} ON app.* TO ${DEPLOYER}`)
    primaryApp = admin(pair.primary.url, 'app')
    for (const ddl of APP_SCHEMA) await primaryApp.raw(ddl)
    await primaryApp.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')")
    await primaryApp.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'p1', 1), (2, 'p2', 2)")
    await primaryApp.raw("INSERT INTO users (id, username, parent_id) VALUES (10, 'c10', 1), (11, 'c11', 1), (12, 'c12', 2), (13, 'gc13', 10)")
    const up = await runCli(['migrate', 'up', '--url', url(pair.primary, 'deployer')])
    expect(up.code, up.stderr).toBe(0)
    await pair.sync()
    replicaApp = admin(pair.replica.url, 'app')
  }, 180_000)
  afterAll(async () => {
    await primaryApp?.destroy()
    await replicaApp?.destroy()
    await pair?.remove()
  })

  it('objects replicate; on the replica the event is SLAVESIDE_DISABLED, a note, and verify and check pass', async () => {
    const verify = await runCli(['verify', '--json', '--url', url(pair.replica)])
    expect(verify.code, verify.stdout).toBe(0)
    const report = JSON.parse(verify.stdout)
    expect(report.objects.find((o: { kind: string }) => o.kind === 'event')).toMatchObject({ present: true, upToDate: true, state: 'ok', status: expect.stringMatching(/^(SLAVESIDE|REPLICA_SIDE)_DISABLED$/) })
    expect(report.notes.join(' ')).toMatch(/(SLAVESIDE|REPLICA_SIDE)_DISABLED on this replica, as replication leaves it: the primary runs it/)
    expect((await runCli(['check', '--url', url(pair.replica)])).code).toBe(0)
  })

  it("a parent's change on the primary reaches the children on the replica", async () => {
    await primaryApp.raw('UPDATE users SET family_id = 3 WHERE id = 1')
    expect(await until(async () => (await familyOn(primaryApp, 13)) === 3, 10_000)).toBe(true)
    await pair.sync()
    expect(await familyOn(replicaApp, 10)).toBe(3)
    expect(await familyOn(replicaApp, 13)).toBe(3)
    expect(await pair.replicationError()).toBeNull()
  })

  it('write commands on the replica exit 2 with one line saying why', async () => {
    for (const args of [['repair'], ['drain'], ['migrate', 'up'], ['migrate', 'down']]) {
      const result = await runCli([...args, '--url', url(pair.replica)])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
      expect(result.stderr).toMatch(/is read-only .*run .* on the primary, or pass --force/)
    }
    expect(await pair.replicationError()).toBeNull()
  })

  it('the drain procedure does nothing on a read-only server, even for an account that may write there', async () => {
    await exec(pair.primary.url, 'SET GLOBAL event_scheduler = OFF')
    // A run already polling inside the server finishes first.
    await eventRunEnded(primaryApp)
    try {
      await primaryApp.raw('UPDATE users SET family_id = 4 WHERE id = 2')
      await pair.sync()
      expect((await rowsOf(replicaApp, 'SELECT COUNT(*) AS n FROM family_sync_queue'))[0].n).toBe(1)
      const [[{ applied }]] = (await replicaApp.raw('CALL family_sync_drain(100, 0, @a)').then(() => replicaApp.raw('SELECT @a AS applied'))) as [[{ applied: number }]]
      expect(Number(applied)).toBe(0)
      expect(await familyOn(replicaApp, 12)).toBe(2)
    } finally {
      await exec(pair.primary.url, 'SET GLOBAL event_scheduler = ON')
    }
    // The next run starts within the event's 10 s interval.
    expect(await until(async () => (await familyOn(primaryApp, 12)) === 4, 20_000)).toBe(true)
    await pair.sync()
    expect(await familyOn(replicaApp, 12)).toBe(4)
    expect(await pair.replicationError()).toBeNull()
  })

  it('everything family-sync writes replicates identically: backfill, drains and repair, statement-logged or not', async () => {
    // Mismatches the triggers would have stopped, made with the repair's bypass, then repaired on the primary.
    await updateBypassingTriggers(primaryApp, 'UPDATE users SET family_id = NULL WHERE id IN (11, 12, 13)')
    expect((await runCli(['repair', '--url', url(pair.primary)])).code).toBe(0)
    await primaryApp.raw('UPDATE users SET family_id = 1 WHERE id IN (1, 2)')
    expect(await until(async () => Number((await rowsOf(primaryApp, 'SELECT COUNT(*) AS n FROM family_sync_queue'))[0].n) === 0, 10_000)).toBe(true)
    await pair.sync()
    expect(await snapshot(pair.replica.url)).toEqual(await snapshot(pair.primary.url))
    expect(await pair.replicationError()).toBeNull()
  })

  it('failover: the new primary reports its disabled event, check catches the silence, migrate up enables it for its owner; failback replicates cleanly', async () => {
    // The primary goes down; the replica is promoted.
    await primaryApp.destroy()
    await pair.primary.stop()
    await pair.promote(pair.replica)
    const verify = await runCli(['verify', '--url', url(pair.replica)])
    expect(verify.code).toBe(1)
    expect(verify.stdout).toMatch(/problem: event family_sync_drain_every_second is (SLAVESIDE|REPLICA_SIDE)_DISABLED on a writable server: replication left it disabled \(after a failover\?\).*run family-sync migrate up, which enables it for its owner/)
    await replicaApp.raw('UPDATE users SET family_id = 2 WHERE id = 1')
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const silent = await checkConsistency(replicaApp, { drainStaleSeconds: 2, maxQueueAgeSeconds: 2 })
    expect(silent.ok).toBe(false)
    expect(silent.problems.join(' ')).toMatch(/no drain has run for/)
    // Nothing drained the change: the child still has the family it had before.
    expect(await familyOn(replicaApp, 10)).toBe(1)

    const up = await runCli(['migrate', 'up', '--url', url(pair.replica)])
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('enabled event family_sync_drain_every_second')
    const [event] = await rowsOf(replicaApp, "SELECT STATUS AS status, DEFINER AS definer FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'app'")
    expect(event).toEqual({ status: 'ENABLED', definer: 'deployer@%' })
    expect(await until(async () => (await familyOn(replicaApp, 13)) === 2, 15_000)).toBe(true)
    expect((await runCli(['verify', '--url', url(pair.replica)])).code).toBe(0)

    // The old primary comes back read-only, its own event still enabled, and follows the new one.
    await pair.primary.start(['--read-only=ON'])
    primaryApp = admin(pair.primary.url, 'app')
    await new Promise((resolve) => setTimeout(resolve, 2000))
    await pair.follow(pair.primary, pair.replica)
    await replicaApp.raw('UPDATE users SET family_id = 4 WHERE id = 1')
    expect(await until(async () => (await familyOn(replicaApp, 13)) === 4, 15_000)).toBe(true)
    await pair.sync(pair.replica, pair.primary)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    await pair.sync(pair.replica, pair.primary)
    expect(await pair.replicationError(pair.primary)).toBeNull()
    expect(await snapshot(pair.primary.url)).toEqual(await snapshot(pair.replica.url))
  }, 90_000)
})

describeWithOwnServers()('binlog_format=STATEMENT', () => {
  it('the preflight refuses it with one line, changing nothing', async () => {
    const server = await startSuiteServer({ args: ['--log-bin=binlog', '--binlog-format=STATEMENT', '--server-id=3', '--log-bin-trust-function-creators=ON'] })
    try {
      await exec(server.url, 'CREATE DATABASE app')
      const app = admin(server.url, 'app')
      for (const ddl of APP_SCHEMA) await app.raw(ddl)
      await app.destroy()
      const up = await runCli(['migrate', 'up', '--url', `${server.url}/app`])
      expect(up.code).toBe(2)
      expect(up.stderr.trim().split('\n')).toHaveLength(1)
      expect(up.stderr).toMatch(/binlog_format is STATEMENT: .*SET GLOBAL binlog_format = 'ROW'/)
    } finally {
      await server.remove()
    }
  }, 60_000)
})
