import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import knexFactory, { type Knex } from 'knex'
import { freePort, startServer, type ExtraServer } from './servers.js'
import { suiteBuild } from './suite-build.js'
import type { ServerBuild } from './server-builds.js'

// Real topologies on loopback, for the tests that need them. Every node is a
// server of the suite's own kind (see servers.ts: hard timeout, killed by
// pid), so a replica of MySQL 9.7 is tested on MySQL 9.7.

/** Why a Galera cluster cannot be started for this suite, or undefined when it can. */
export function cannotStartGalera(): string | undefined {
  const build = suiteBuild()
  if (!build) return 'needs mariadbd on this machine to start a Galera cluster (Debian: apt-get install mariadb-server galera-4 rsync)'
  if (build.engine === 'mysql') return 'Galera is MariaDB\'s: MySQL replicates through Group Replication instead'
  const inside = (path: string) => existsSync(join(build.root, path))
  const tools = ['/usr/bin/rsync', '/usr/bin/wsrep_sst_rsync', ...(build.root ? ['/usr/bin/ss'] : [])]
  if (!build.galeraProvider || !inside(build.galeraProvider) || !tools.every(inside)) {
    return build.root
      ? `the ${build.kind} chroot lacks Galera's provider or rsync state transfer: remove ${build.root}/.complete to have it completed`
      : 'needs Galera\'s provider, rsync and wsrep_sst_rsync (Debian: apt-get install mariadb-server galera-4 rsync)'
  }
  return undefined
}

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
  /** Makes a replica a writable primary: replication stopped and forgotten, read_only off. */
  promote(server: ExtraServer): Promise<void>
  remove(): Promise<void>
}

/** How each engine spells GTID replication: its options, and the statements that follow, wait and stop. */
function replication(build: ServerBuild) {
  if (build.engine === 'mysql') {
    return {
      options: (id: number) => [`--server-id=${id}`, '--gtid-mode=ON', '--enforce-gtid-consistency=ON'],
      position: 'SELECT @@GLOBAL.gtid_executed',
      wait: 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, 30)',
      stop: ['STOP REPLICA', 'RESET REPLICA ALL'],
      follow: (port: number) => [
        `CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=${port}, SOURCE_USER='repl', SOURCE_PASSWORD='Repl-pw-1', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1`,
        'START REPLICA',
      ],
      status: 'SHOW REPLICA STATUS',
      running: 'Replica_SQL_Running',
      readOnlyOff: ['SET GLOBAL super_read_only = OFF', 'SET GLOBAL read_only = OFF'],
    }
  }
  return {
    options: (id: number) => [`--server-id=${id}`, '--gtid-domain-id=0', '--gtid-strict-mode=ON', '--log-slave-updates=ON'],
    position: 'SELECT @@GLOBAL.gtid_binlog_pos',
    wait: 'SELECT MASTER_GTID_WAIT(?, 30)',
    stop: ['STOP SLAVE', 'RESET SLAVE ALL'],
    follow: (port: number) => [
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${port}, MASTER_USER='repl', MASTER_PASSWORD='Repl-pw-1', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
      'START SLAVE',
    ],
    status: 'SHOW SLAVE STATUS',
    running: 'Slave_SQL_Running',
    readOnlyOff: ['SET GLOBAL read_only = OFF'],
  }
}

/** A GTID primary and a read-only replica of the suite's kind, both with binary logs and the event scheduler ON. */
export async function startReplicaPair(binlogFormat: 'ROW' | 'MIXED' | 'STATEMENT'): Promise<ReplicaPair> {
  const build = suiteBuild()
  if (!build) throw new Error('no server build on this machine to start a replica pair')
  const spelling = replication(build)
  const common = ['--log-bin=binlog', `--binlog-format=${binlogFormat}`, '--event-scheduler=ON', '--log-bin-trust-function-creators=ON']
  const primary = await startServer({ build, args: [...spelling.options(1), ...common] })
  const replica = await startServer({ build, args: [...spelling.options(2), '--read-only=ON', ...common] })
  await exec(primary.url, "CREATE USER 'repl'@'%' IDENTIFIED BY 'Repl-pw-1'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'")
  const pair: ReplicaPair = {
    primary,
    replica,
    async follow(follower, source) {
      await exec(follower.url, ...spelling.stop)
      await exec(follower.url, ...spelling.follow(source.port))
    },
    async promote(server) {
      await exec(server.url, ...spelling.stop, ...spelling.readOnlyOff)
    },
    async sync(source = pair.primary, follower = pair.replica) {
      const position = await scalar<string>(source.url, spelling.position)
      const waited = await scalar<number>(follower.url, spelling.wait, [position])
      if (Number(waited) !== 0) throw new Error(`replica did not reach ${position} in 30 s: ${await pair.replicationError(follower)}`)
    },
    async replicationError(server = pair.replica) {
      const knex = admin(server.url)
      try {
        const [rows] = (await knex.raw(spelling.status)) as [Array<Record<string, string>>]
        const status = rows[0]
        if (!status) return 'not a replica'
        if (Number(status.Last_SQL_Errno) !== 0) return `SQL thread: ${status.Last_SQL_Errno} ${status.Last_SQL_Error}`
        if (Number(status.Last_IO_Errno) !== 0) return `IO thread: ${status.Last_IO_Errno} ${status.Last_IO_Error}`
        if (status[spelling.running] !== 'Yes') return `SQL thread not running (${status[spelling.running]})`
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
 * rsync state transfer finds its daemon's pid by the port it listens on (ss
 * -p), which reads /proc: a chroot build gets the host's /proc for as long as
 * its cluster runs. Returns what undoes it.
 */
function procMounted(build: ServerBuild): () => void {
  if (!build.root) return () => {}
  const proc = join(build.root, 'proc')
  mkdirSync(proc, { recursive: true })
  if (existsSync(join(proc, 'self'))) return () => {}
  const mount = spawnSync('mount', ['-t', 'proc', 'proc', proc], { encoding: 'utf8' })
  if (mount.status !== 0) throw new Error(`mounting /proc in ${build.root} for Galera failed: ${mount.stderr}`)
  return () => {
    spawnSync('umount', ['-l', proc])
  }
}

/**
 * A Galera cluster of `size` nodes on loopback, as the mysql user (rsync SST
 * refuses root). Nodes join one after the other by rsync SST.
 */
export async function startGaleraCluster(size = 3): Promise<GaleraCluster> {
  const build = suiteBuild()
  const why = cannotStartGalera()
  if (why || !build) throw new Error(why)
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ galera: await freePort(), ist: await freePort(), sst: await freePort() })))
  const address = `gcomm://${ports.map((p) => `127.0.0.1:${p.galera}`).join(',')}`
  const nodes: ExtraServer[] = []
  const unmount = procMounted(build)
  try {
    for (let i = 0; i < size; i++) {
      const p = ports[i]
      const node = await startServer({
        build,
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
          `--wsrep-provider=${build.galeraProvider}`,
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
    unmount()
    throw error
  }
  return {
    nodes,
    async remove() {
      // Followers first, so the last node does not wait for a lost quorum.
      for (const node of [...nodes].reverse()) await node.remove()
      unmount()
    },
  }
}
