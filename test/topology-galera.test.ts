import { MIGRATION_NAMES } from '../migrations/index.js'
import type { Knex } from 'knex'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { isRetryableWriteError, repairFamilyIds } from '../src/library.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import { updateBypassingTriggers } from './helpers/family.js'
import { admin, cannotStartGalera, exec, startGaleraCluster, type GaleraCluster } from './helpers/topology.js'
import { describeWhen } from './helpers/requires.js'

const GRANTS = 'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, TRIGGER, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, EVENT'
const PARENTS = 60

interface Stats {
  conflicts: number
  triggerLoads: number
  failures: string[]
}

async function rowsOf(knex: Knex, sql: string, bindings: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const [rows] = (await knex.raw(sql, bindings as never[])) as [Array<Record<string, unknown>>]
  return rows
}

async function mismatches(knex: Knex): Promise<number> {
  const [row] = await rowsOf(knex, 'SELECT COUNT(*) AS n FROM users c JOIN users p ON p.id = c.parent_id WHERE p.family_id IS NOT NULL AND NOT (c.family_id <=> p.family_id)')
  return Number(row.n)
}

// Galera aborts a write that lost certification to another node's: the
// application's own writers retry those, as every Galera application must.
// Aborted while it loaded the triggers of users, the same write fails with
// error 1064 "Trigger ... has an error in its body" instead: the writers
// retry what isRetryableWriteError says, as the README asks applications to.
async function write(knex: Knex, sql: string, bindings: unknown[], stats: Stats): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await knex.raw(sql, bindings as never[])
      return
    } catch (error) {
      const e = error as { errno?: number; message: string }
      if (isRetryableWriteError(error) && attempt < 20) {
        if (e.errno === 1213) stats.conflicts++
        else stats.triggerLoads++
        await new Promise((resolve) => setTimeout(resolve, 5 * attempt))
        continue
      }
      stats.failures.push(`${e.errno}: ${e.message}`)
      return
    }
  }
}

describeWhen(!cannotStartGalera(), cannotStartGalera() ?? '')('a three-node Galera cluster', () => {
  let cluster: GaleraCluster
  let nodes: Knex[]
  const url = (i: number, user: 'root' | 'deployer' = 'deployer') => `${cluster.nodes[i].url.replace('mysql://root', user === 'root' ? 'mysql://root' : 'mysql://deployer:Dep-pw-1')}/app`

  beforeAll(async () => {
    cluster = await startGaleraCluster(3)
    await exec(cluster.nodes[0].url, 'CREATE DATABASE app', "CREATE USER 'deployer'@'%' IDENTIFIED BY 'Dep-pw-1'", `GRANT ${GRANTS} ON app.* TO 'deployer'@'%'`, "GRANT RELOAD ON *.* TO 'deployer'@'%'")
    nodes = cluster.nodes.map((node) => admin(node.url, 'app'))
    for (const ddl of APP_SCHEMA) await nodes[0].raw(ddl)
    const families = Array.from({ length: PARENTS + 5 }, (_, i) => [i + 1, `family ${i + 1}`])
    await nodes[0].raw(`INSERT INTO families (id, name) VALUES ${families.map(() => '(?, ?)').join(', ')}`, families.flat())
    const parents = Array.from({ length: PARENTS }, (_, i) => [i + 1, `parent ${i + 1}`, i + 1])
    await nodes[0].raw(`INSERT INTO users (id, username, family_id) VALUES ${parents.map(() => '(?, ?, ?)').join(', ')}`, parents.flat())
    const children = Array.from({ length: PARENTS * 4 }, (_, i) => [1000 + i, `child ${i}`, (i % PARENTS) + 1])
    await nodes[0].raw(`INSERT INTO users (id, username, parent_id) VALUES ${children.map(() => '(?, ?, ?)').join(', ')}`, children.flat())
  }, 300_000)
  afterAll(async () => {
    for (const knex of nodes ?? []) await knex.destroy()
    await cluster?.remove()
  })

  it('the preflight treats a Galera node like binary logging: without SUPER or log_bin_trust_function_creators, error 1419 is named first', async () => {
    for (const node of cluster.nodes) await exec(node.url, 'SET GLOBAL log_bin_trust_function_creators = 0')
    const up = await runCli(['migrate', 'up', '--url', url(1)])
    expect(up.code).toBe(2)
    expect(up.stderr).toMatch(/this is a Galera node \(wsrep_on\), which applies the binary-logging rule, .*error 1419/)
    expect(await rowsOf(nodes[1], "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME LIKE 'family\\_sync%'")).toEqual([])
    for (const node of cluster.nodes) await exec(node.url, 'SET GLOBAL log_bin_trust_function_creators = 1')
  })

  it('two nodes running migrate up at once: both exit 0, each migration is recorded once, and the cluster keeps taking writes', async () => {
    const [a, b] = await Promise.all([runCli(['migrate', 'up', '--url', url(0)]), runCli(['migrate', 'up', '--url', url(1)])])
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    const recorded = await rowsOf(nodes[2], 'SELECT name, COUNT(*) AS n FROM family_sync_migrations GROUP BY name')
    expect(recorded).toHaveLength(MIGRATION_NAMES.length)
    expect(recorded.every((r) => Number(r.n) === 1)).toBe(true)
    // No node hangs: a write on each commits at once.
    for (const [i, knex] of nodes.entries()) {
      const started = Date.now()
      await knex.raw('UPDATE users SET username = ? WHERE id = 1000', [`ping ${i}`])
      expect(Date.now() - started).toBeLessThan(5000)
    }
    expect(await mismatches(nodes[2])).toBe(0)
    const modes = await rowsOf(nodes[2], "SELECT DISTINCT SQL_MODE AS m FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app'")
    expect(modes).toHaveLength(1)
  }, 120_000)

  it('the event runs on the node that created it; on the others it is a note, and verify passes on every node', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const statuses = await Promise.all(nodes.map(async (knex) => (await rowsOf(knex, "SELECT STATUS AS s FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'app'"))[0]?.s))
    expect(statuses.filter((s) => s === 'ENABLED')).toHaveLength(1)
    for (let i = 0; i < 3; i++) {
      const verify = await runCli(['verify', '--json', '--url', url(i, 'root')])
      expect(verify.code, `node ${i + 1}: ${verify.stdout}`).toBe(0)
      if (statuses[i] !== 'ENABLED') expect(JSON.parse(verify.stdout).notes.join(' ')).toMatch(/runs on the node that created it/)
    }
  })

  it('drains on every node beside writers on every node never give up, and the invariant holds after', async () => {
    const stats: Stats = { conflicts: 0, triggerLoads: 0, failures: [] }
    const drainFailures: string[] = []
    const stopAt = Date.now() + 15_000
    const pick = (n: number) => 1 + Math.floor(Math.random() * n)
    const writers = nodes.map(async (knex) => {
      while (Date.now() < stopAt) {
        const op = pick(3)
        if (op === 1) await write(knex, 'UPDATE users SET family_id = ? WHERE id = ?', [pick(PARENTS + 5), pick(PARENTS)], stats)
        else if (op === 2) await write(knex, 'UPDATE users SET parent_id = ? WHERE id = ?', [pick(PARENTS), 1000 + pick(PARENTS * 4) - 1], stats)
        else await write(knex, "INSERT INTO users (username, parent_id) VALUES ('galera', ?)", [pick(PARENTS)], stats)
      }
    })
    const drains = [0, 1, 2].map(async (i) => {
      while (Date.now() < stopAt) {
        const drain = await runCli(['drain', '--url', url(i)])
        if (drain.code !== 0) drainFailures.push(`node ${i + 1}: exit ${drain.code} ${drain.stdout} ${drain.stderr}`)
      }
    })
    await Promise.all([...writers, ...drains])
    expect(drainFailures).toEqual([])
    expect(stats.failures).toEqual([])
    for (let round = 0; round < 5 && (await mismatches(nodes[0])) > 0; round++) await runCli(['drain', '--url', url(0)])
    expect(await mismatches(nodes[0])).toBe(0)
    console.log(`galera: ${stats.conflicts} application certification conflicts and ${stats.triggerLoads} interrupted trigger loads retried by the application; drains never failed`)
    // The trigger bodies parse on every node from every kind of session.
    for (const knex of nodes) expect((await rowsOf(knex, 'SELECT COUNT(*) AS n FROM users WHERE id = 1'))[0].n).toBe(1)
  }, 120_000)

  it('repair under writes from the other nodes finishes with exit 0', async () => {
    const stats: Stats = { conflicts: 0, triggerLoads: 0, failures: [] }
    // Mismatches to repair, made with the bypass on node 1.
    await updateBypassingTriggers(nodes[0], 'UPDATE users SET family_id = NULL WHERE id >= 1000 AND id % 3 = 0')
    // The application on the other nodes changes parents' families, 50 a second each.
    let stop = false
    const writers = [1, 2].map(async (i) => {
      while (!stop) {
        await write(nodes[i], 'UPDATE users SET family_id = ? WHERE id = ?', [1 + Math.floor(Math.random() * PARENTS), 1 + Math.floor(Math.random() * PARENTS)], stats)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })
    const repair = await runCli(['repair', '--json', '--url', url(0)], { timeoutMs: 120_000 })
    stop = true
    await Promise.all(writers)
    expect(repair.code, repair.stderr).toBe(0)
    expect(JSON.parse(repair.stdout).remaining, repair.stdout).toBe(0)
    expect(stats.failures).toEqual([])
    console.log(`galera repair beside two nodes' writers: ${repair.stdout.replace(/\s+/g, ' ')}`)
    await repairFamilyIds(nodes[0])
  }, 180_000)
})
