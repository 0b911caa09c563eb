import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The servers the suite runs on: this machine's own MariaDB (its server, or
 * the one TEST_DATABASE_URL names), and MariaDB 11.8 and MySQL 9.7 from
 * Debian's archive, each in a debootstrap chroot of its own, made once and
 * reused. A test server of any of them is started by servers.ts.
 */
export type ServerKind = 'machine' | 'mariadb-11.8' | 'mysql-9.7'

export const SERVER_KINDS: readonly ServerKind[] = ['machine', 'mariadb-11.8', 'mysql-9.7']

export interface ServerBuild {
  kind: ServerKind
  engine: 'mariadb' | 'mysql'
  /** The chroot its binaries run in; '' for this machine's own. */
  root: string
  /** The server binary, inside root. */
  server: string
  /** Its own command-line client, inside root. */
  client: string
  /** Galera's provider inside root, when the build has one. */
  galeraProvider?: string
}

const MAKE_CHROOT = join(fileURLToPath(new URL('.', import.meta.url)), 'make-chroot.sh')

const HOST_MARIADBD = ['/usr/sbin/mariadbd', '/usr/local/bin/mariadbd'].find(existsSync)

/** This machine's own MariaDB, when it has one: the servers its tests start beside the one TEST_DATABASE_URL names. */
export const MACHINE_BUILD: ServerBuild | undefined = HOST_MARIADBD
  ? {
      kind: 'machine',
      engine: 'mariadb',
      root: '',
      server: HOST_MARIADBD,
      client: 'mariadb',
      galeraProvider: ['/usr/lib/galera/libgalera_smm.so', '/usr/lib/libgalera_smm.so'].find(existsSync),
    }
  : undefined

const chroots = new Map<ServerKind, ServerBuild>()

/** The chroot of a Debian build, made by make-chroot.sh when missing (about a minute); looked up once per process. */
export function chrootBuild(kind: Exclude<ServerKind, 'machine'>): ServerBuild {
  const known = chroots.get(kind)
  if (known) return known
  const made = spawnSync('bash', [MAKE_CHROOT, kind], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (made.status !== 0) throw new Error(`the ${kind} test server could not be made (make-chroot.sh exited ${made.status}); see the lines above`)
  const root = made.stdout.trim().split('\n').pop()!
  const build: ServerBuild =
    kind === 'mysql-9.7'
      ? { kind, engine: 'mysql', root, server: '/usr/sbin/mysqld', client: 'mysql' }
      : { kind, engine: 'mariadb', root, server: '/usr/sbin/mariadbd', client: 'mariadb', galeraProvider: '/usr/lib/galera/libgalera_smm.so' }
  chroots.set(kind, build)
  return build
}

/** The build for a kind, or undefined when this machine has none (a suite server in a container, no mariadbd here). */
export function buildOf(kind: ServerKind): ServerBuild | undefined {
  return kind === 'machine' ? MACHINE_BUILD : chrootBuild(kind)
}

/** A command of the build, as argv: through chroot for a chroot build. */
export function inBuild(build: ServerBuild, command: string, args: string[]): [string, string[]] {
  return build.root ? ['chroot', [build.root, command, ...args]] : [command, args]
}

/** The servers FAMILY_SYNC_TEST_SERVERS names (comma-separated), all of them by default. */
export function selectedKinds(env: NodeJS.ProcessEnv = process.env): ServerKind[] {
  const asked = env.FAMILY_SYNC_TEST_SERVERS?.split(',').map((s) => s.trim()).filter(Boolean)
  if (!asked) return [...SERVER_KINDS]
  for (const kind of asked) {
    if (!SERVER_KINDS.includes(kind as ServerKind)) throw new Error(`FAMILY_SYNC_TEST_SERVERS: unknown server '${kind}' (choose from ${SERVER_KINDS.join(', ')})`)
  }
  return asked as ServerKind[]
}
