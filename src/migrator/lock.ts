import { createHash, randomBytes } from 'node:crypto'
import type { Session } from '../connection/session.js'
import type { ServerInfo } from '../db/introspect.js'
import { processRows, type ProcessRow } from '../db/processlist.js'
import { LOCK_DDL, LOCK_TABLE } from '../db/tables.js'
import { EXIT_CANNOT_RUN, FamilySyncError } from '../errors.js'
import { quietReporter, type Reporter } from '../reporter.js'

const PREFIX = 'family_sync_migrate:'
// GET_LOCK names are limited to 64 characters on MySQL 5.7+ and MariaDB.
const MAX_LOCK_NAME = 64

/** The lock is per database, so two databases on one server migrate in parallel. */
export function lockNameFor(database: string): string {
  const plain = PREFIX + database
  if (plain.length <= MAX_LOCK_NAME) return plain
  return PREFIX + createHash('sha256').update(database).digest('hex').slice(0, MAX_LOCK_NAME - PREFIX.length)
}

/**
 * The migration lock. It is held by the session that does the work, so a
 * process that dies, or a connection the server drops, takes it along; the
 * holder confirms it before every step and stops (exit 2) if it is gone,
 * rather than working beside a second run that took it meanwhile.
 */
export interface MigrationLock {
  readonly name: string
  acquire(): Promise<void>
  confirm(): Promise<void>
  release(): Promise<void>
}

function lost(name: string, why: string, cause?: unknown): FamilySyncError {
  return new FamilySyncError(
    `lost the migration lock '${name}' (${why}): stopped before the next step so that no second migrate works beside this one; what is done stays done, run migrate up again`,
    { cause, exitCode: EXIT_CANNOT_RUN },
  )
}

/** GET_LOCK: server-wide on one server, released by the server when the session ends. */
export class NamedLock implements MigrationLock {
  private held = false

  constructor(private readonly session: Session, readonly name: string, private readonly timeoutSeconds: number, private readonly reporter: Reporter = quietReporter) {}

  async acquire(): Promise<void> {
    if (this.held) return
    let got = await this.session.scalar<number>('SELECT GET_LOCK(?, 0)', [this.name])
    if (Number(got) !== 1 && got !== null) {
      // Several pipeline pods at once: say once who is migrating, then wait for it.
      this.reporter.info(`waiting up to ${this.timeoutSeconds} s for the migration lock '${this.name}', held by ${await holderOf(this.session, this.name)} (another migrate running)`)
      got = await this.session.scalar<number>('SELECT GET_LOCK(?, ?)', [this.name, this.timeoutSeconds])
    }
    if (Number(got) !== 1) {
      const holder = await this.session.scalar<number>('SELECT IS_USED_LOCK(?)', [this.name])
      const who = holder === null ? 'another session' : `connection id ${holder}`
      throw new FamilySyncError(
        got === null
          ? `the server refused the migration lock '${this.name}' (GET_LOCK returned NULL); check the server's error log and run again`
          : `could not take the migration lock '${this.name}' within ${this.timeoutSeconds}s: it is held by ${who} (another migrate running?); wait for it to finish or raise --lock-timeout`,
      )
    }
    this.held = true
  }

  async confirm(): Promise<void> {
    let mine: unknown
    try {
      mine = await this.session.scalar('SELECT IS_USED_LOCK(?) = CONNECTION_ID()', [this.name])
    } catch (error) {
      throw lost(this.name, 'the connection holding it is gone', error)
    }
    if (Number(mine) !== 1) throw lost(this.name, 'this session no longer holds it')
  }

  async release(): Promise<void> {
    if (!this.held) return
    this.held = false
    await this.session.run('DO RELEASE_LOCK(?)', [this.name]).catch(() => {})
  }
}

const LEASE_SECONDS = 30
const RENEW_EVERY_MS = 5_000

/**
 * On Galera GET_LOCK holds on one node only, so two nodes could migrate at
 * once. A lease in a row of family_sync_lock holds cluster-wide: a committed
 * row is certified on every node, and of two nodes claiming it at once one
 * gets a certification conflict. A process that dies loses it when the lease
 * runs out (30 s), or at once to a waiter on the same node, which can see
 * that the holder's connection is gone.
 */
export class LeaseLock implements MigrationLock {
  private held = false
  private renewedAt = 0
  private owner = ''

  constructor(private readonly session: Session, readonly name: string, private readonly timeoutSeconds: number, private readonly node: string, private readonly reporter: Reporter = quietReporter) {}

  async acquire(): Promise<void> {
    if (this.held) return
    await this.session.run(LOCK_DDL)
    await this.session.run(`INSERT IGNORE INTO ${LOCK_TABLE} (name) VALUES (?)`, [this.name])
    this.owner = `${this.node}/${this.session.connectionId}/${randomBytes(4).toString('hex')}`
    const deadline = Date.now() + this.timeoutSeconds * 1000
    for (let said = false; ; ) {
      if (await this.claim()) break
      if (!said) {
        said = true
        const holder = await this.session.scalar<string>(`SELECT owner FROM ${LOCK_TABLE} WHERE name = ?`, [this.name])
        this.reporter.info(`waiting up to ${this.timeoutSeconds} s for the migration lock '${this.name}', held by ${holder ?? 'another session'} (another migrate running on this cluster)`)
      }
      if (Date.now() > deadline) {
        const holder = await this.session.scalar<string>(`SELECT owner FROM ${LOCK_TABLE} WHERE name = ?`, [this.name])
        throw new FamilySyncError(
          `could not take the migration lock '${this.name}' within ${this.timeoutSeconds}s: it is held by ${holder ?? 'another session'} (another migrate running on this cluster?); wait for it to finish or raise --lock-timeout`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 250 + Math.random() * 250))
    }
    this.held = true
    this.renewedAt = Date.now()
  }

  private async claim(): Promise<boolean> {
    try {
      const claimed = await this.session.run(
        `UPDATE ${LOCK_TABLE} SET owner = ?, expires_at = NOW(3) + INTERVAL ${LEASE_SECONDS} SECOND
         WHERE name = ? AND (owner IS NULL OR owner = ? OR expires_at < NOW(3))`,
        [this.owner, this.name, this.owner],
      )
      if (claimed.affectedRows === 1) return true
      // A holder on this node whose connection is gone died with it.
      const holder = await this.session.scalar<string>(`SELECT owner FROM ${LOCK_TABLE} WHERE name = ?`, [this.name])
      const [node, connection] = (holder ?? '').split('/')
      if (node === this.node && connection && (await processRows(this.session, [Number(connection)])).length === 0) {
        const taken = await this.session.run(`UPDATE ${LOCK_TABLE} SET owner = ?, expires_at = NOW(3) + INTERVAL ${LEASE_SECONDS} SECOND WHERE name = ? AND owner = ?`, [this.owner, this.name, holder])
        return taken.affectedRows === 1
      }
      return false
    } catch (error) {
      // Two nodes claiming at once: one of them gets a certification conflict.
      if ((error as { errno?: number }).errno === 1213) return false
      throw error
    }
  }

  async confirm(): Promise<void> {
    if (Date.now() - this.renewedAt < RENEW_EVERY_MS) return
    let renewed: number
    try {
      renewed = (await this.session.run(
        `UPDATE ${LOCK_TABLE} SET expires_at = NOW(3) + INTERVAL ${LEASE_SECONDS} SECOND WHERE name = ? AND owner = ?`,
        [this.name, this.owner],
      )).affectedRows
    } catch (error) {
      throw lost(this.name, 'the connection holding it is gone', error)
    }
    if (renewed !== 1) throw lost(this.name, 'its lease ran out and another run took it')
    this.renewedAt = Date.now()
  }

  async release(): Promise<void> {
    if (!this.held) return
    this.held = false
    await this.session.run(`UPDATE ${LOCK_TABLE} SET owner = NULL, expires_at = NULL WHERE name = ? AND owner = ?`, [this.name, this.owner]).catch(() => {})
  }
}

export function migrationLock(session: Session, server: ServerInfo, timeoutSeconds: number, reporter: Reporter = quietReporter): MigrationLock {
  const name = lockNameFor(server.database)
  return server.galera ? new LeaseLock(session, name, timeoutSeconds, server.node, reporter) : new NamedLock(session, name, timeoutSeconds, reporter)
}

/** Who holds a named lock: its connection, and the account and host when this account may see them (PROCESS). */
async function holderOf(session: Session, name: string): Promise<string> {
  const id = await session.scalar<number>('SELECT IS_USED_LOCK(?)', [name])
  if (id === null) return 'another session'
  const [row] = await processRows(session, [Number(id)]).catch((): ProcessRow[] => [])
  return row ? `connection ${id} (${row.user}@${row.host}, for ${row.time} s)` : `connection ${id}`
}
