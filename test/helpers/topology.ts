import { existsSync } from 'node:fs'
import knexFactory, { type Knex } from 'knex'
import { freePort, MARIADBD, startServer, type ExtraServer } from './servers.js'

// Real topologies on loopback, for the tests that need them. Every node is a
// mariadbd of the test's own (see servers.ts: hard timeout, killed by pid).

export const GALERA_PROVIDER = ['/usr/lib/galera/libgalera_smm.so', '/usr/lib/libgalera_smm.so'].find(existsSync)
export const HAVE_REPLICATION = !!MARIADBD
export const HAVE_GALERA = !!MARIADBD && !!GALERA_PROVIDER && existsSync('/usr/bin/rsync') && existsSync('/usr/bin/wsrep_sst_rsync')

export function admin(url: string, database?: string): Knex {
  const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} }
  return knexFactory({ client: 'mysql2', connection: `${url}${database ? '/' + database : ''}`, pool: { min: 0, max: 2 }, log: quiet })
}

async function scalar<T>(url: string, sql: string, bindings: unknown[] = []): Promise<T> {
  const knex = admin(url)
  try {
    const [rows] = (await knex.raw(sql, bindings as never[])) as [Array<Record<string, T>>]
    return Object.values(rows[0] ?? {})[0]
  } finally {
    await knex.destroy()
  }
}

export async function exec(url: string, ...statements: string[]): Promise<void> {
  const knex = admin(url)
  try {
    for (const sql of statements) await knex.raw(sql)
  } finally {
    await knex.destroy()
  }
}

export interface ReplicaPair {
  primary: ExtraServer
  replica: ExtraServer
  /** Waits until `follower` (default: the replica) has applied everything `source` (default: the primary) has logged. */
  sync(source?: ExtraServer, follower?: ExtraServer): Promise<void>
  /** The replica's replication thread errors, if any. */
  replicationError(server?: ExtraServer): Promise<string | null>
  /** Points `replica` at `source` with GTID replication. */
  follow(replica: ExtraServer, source: ExtraServer): Promise<void>
  remove(): Promise<void>
}

/** A GTID primary and a read-only replica, both with binary logs and the event scheduler ON. */
export async function startReplicaPair(binlogFormat: 'ROW' | 'MIXED' | 'STATEMENT'): Promise<ReplicaPair> {
  const common = ['--log-bin=binlog', `--binlog-format=${binlogFormat}`, '--gtid-strict-mode=ON', '--log-slave-updates=ON', '--event-scheduler=ON', '--log-bin-trust-function-creators=ON']
  const primary = await startServer({ args: ['--server-id=1', '--gtid-domain-id=0', ...common] })
  const replica = await startServer({ args: ['--server-id=2', '--gtid-domain-id=0', '--read-only=ON', ...common] })
  await exec(primary.url, "CREATE USER 'repl'@'%' IDENTIFIED BY 'Repl-pw-1'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'")
  const pair: ReplicaPair = {
    primary,
    replica,
    async follow(follower, source) {
      await exec(follower.url, 'STOP SLAVE', 'RESET SLAVE ALL')
      await exec(follower.url, `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${source.port}, MASTER_USER='repl', MASTER_PASSWORD='Repl-pw-1', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`, 'START SLAVE')
    },
    async sync(source = pair.primary, follower = pair.replica) {
      const position = await scalar<string>(source.url, 'SELECT @@GLOBAL.gtid_binlog_pos')
      const waited = await scalar<number>(follower.url, 'SELECT MASTER_GTID_WAIT(?, 30)', [position])
      if (Number(waited) !== 0) throw new Error(`replica did not reach ${position} in 30 s: ${await pair.replicationError(follower)}`)
    },
    async replicationError(server = pair.replica) {
      const knex = admin(server.url)
      try {
        const [rows] = (await knex.raw('SHOW SLAVE STATUS')) as [Array<Record<string, string>>]
        const status = rows[0]
        if (!status) return 'not a replica'
        if (status.Last_SQL_Errno !== '0' && status.Last_SQL_Errno !== (0 as unknown as string)) return `SQL thread: ${status.Last_SQL_Errno} ${status.Last_SQL_Error}`
        if (status.Last_IO_Errno !== '0' && status.Last_IO_Errno !== (0 as unknown as string)) return `IO thread: ${status.Last_IO_Errno} ${status.Last_IO_Error}`
        if (status.Slave_SQL_Running !== 'Yes') return `SQL thread not running (${status.Slave_SQL_Running})`
        return null
      } finally {
        await knex.destroy()
      }
    },
    async remove() {
      await Promise.all([pair.primary.remove(), pair.replica.remove()])
    },
  }
  await pair.follow(replica, primary)
  await pair.sync()
  return pair
}

export interface GaleraCluster {
  nodes: ExtraServer[]
  remove(): Promise<void>
}

async function waitSynced(node: ExtraServer, size: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const knex = admin(node.url)
    try {
      const [rows] = (await knex.raw("SHOW STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_cluster_size', 'wsrep_ready')")) as [Array<{ Variable_name: string; Value: string }>]
      const status = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]))
      if (status.wsrep_local_state_comment === 'Synced' && Number(status.wsrep_cluster_size) === size && status.wsrep_ready === 'ON') return
    } catch {
      // still joining
    } finally {
      await knex.destroy()
    }
    if (Date.now() > deadline) throw new Error(`galera node on port ${node.port} did not sync into a cluster of ${size}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/**
 * A Galera cluster of `size` nodes on loopback, as the mysql user (rsync SST
 * refuses root). Nodes join one after the other by rsync SST.
 */
export async function startGaleraCluster(size = 3): Promise<GaleraCluster> {
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ galera: await freePort(), ist: await freePort(), sst: await freePort() })))
  const address = `gcomm://${ports.map((p) => `127.0.0.1:${p.galera}`).join(',')}`
  const nodes: ExtraServer[] = []
  try {
    for (let i = 0; i < size; i++) {
      const p = ports[i]
      const node = await startServer({
        user: 'mysql',
        hardTimeoutMs: 900_000,
        env: { PATH: `/usr/bin:/bin:/usr/sbin:/sbin:${process.env.PATH ?? ''}` },
        args: [
          '--binlog-format=ROW',
          '--default-storage-engine=InnoDB',
          '--innodb-autoinc-lock-mode=2',
          '--innodb-flush-log-at-trx-commit=0',
          '--event-scheduler=ON',
          '--wsrep-on=ON',
          `--wsrep-provider=${GALERA_PROVIDER}`,
          '--wsrep-cluster-name=family_sync_test',
          `--wsrep-cluster-address=${i === 0 ? 'gcomm://' : address}`,
          `--wsrep-node-address=127.0.0.1:${p.galera}`,
          `--wsrep-node-name=node${i + 1}`,
          `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${p.galera};ist.recv_addr=127.0.0.1:${p.ist};gcache.size=64M`,
          '--wsrep-sst-method=rsync',
          `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`,
          ...(i === 0 ? ['--wsrep-new-cluster'] : []),
        ],
      })
      nodes.push(node)
      await waitSynced(node, i + 1)
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.remove()))
    throw error
  }
  return {
    nodes,
    async remove() {
      // Followers first, so the last node does not wait for a lost quorum.
      for (const node of [...nodes].reverse()) await node.remove()
    },
  }
}
