import { createHash } from 'node:crypto'
import type { Knex } from 'knex'
import { openSession, type Session } from '../connection/session.js'
import { FamilySyncError } from '../errors.js'

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
 * A MySQL named lock held by one dedicated session. The server releases it when
 * that session ends, so a killed process cannot leave it behind.
 */
export class MigrationLock {
  private held: { session: Session; release: () => Promise<void>; name: string } | undefined

  constructor(private readonly knex: Knex, private readonly timeoutSeconds: number) {}

  async acquire(): Promise<void> {
    if (this.held) return
    const { session, release } = await openSession(this.knex)
    try {
      const [{ db }] = await session.query<{ db: string | null }>('SELECT DATABASE() AS db')
      const name = lockNameFor(db ?? '')
      const [{ got }] = await session.query<{ got: number | null }>('SELECT GET_LOCK(?, ?) AS got', [name, this.timeoutSeconds])
      if (got !== 1) {
        const [{ holder }] = await session.query<{ holder: number | null }>('SELECT IS_USED_LOCK(?) AS holder', [name])
        const who = holder === null ? 'another session' : `connection id ${holder}`
        throw new FamilySyncError(
          got === 0
            ? `could not take the migration lock '${name}' within ${this.timeoutSeconds}s: it is held by ${who} (another migrate running?); wait for it to finish or raise --lock-timeout`
            : `the server refused the migration lock '${name}' (GET_LOCK returned NULL); check the server's error log and run again`,
        )
      }
      this.held = { session, release, name }
    } catch (error) {
      await release()
      throw error
    }
  }

  async release(): Promise<void> {
    const held = this.held
    this.held = undefined
    if (!held) return
    try {
      await held.session.query('SELECT RELEASE_LOCK(?)', [held.name])
    } finally {
      await held.release()
    }
  }
}
