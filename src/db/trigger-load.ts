import type { Session } from '../connection/session.js'
import { ifInstalled, type ServerInfo } from './introspect.js'
import { isInterruptedTriggerLoad } from './retry.js'
import { QUEUE_TABLE } from './tables.js'

/**
 * Whether a drain has met a failed trigger load lately: it keeps the error in
 * the queue entry it could not apply. Looking for one costs a write on users,
 * so only then is it looked for.
 */
export async function drainMetTriggerLoadFailure(session: Session): Promise<boolean> {
  const found = await ifInstalled(() => session.scalar<number>(`SELECT EXISTS (SELECT 1 FROM ${QUEUE_TABLE} WHERE last_error LIKE '%has an error in its body%')`), 0)
  return Number(found) === 1
}

const CANNOT_TELL = new Set([1142, 1143, 1205, 1290, 1792])

/**
 * Whether this server will run the triggers of users for a write, tried the
 * only way that shows it: a no-op UPDATE of one row nobody holds, rolled back
 * (the server checks a trigger it could not load only when a row is written;
 * EXPLAIN and an UPDATE that matches nothing pass). Returns the server's
 * error when it will not; null when it will, or when it cannot be tried here
 * (read-only, no row free, no UPDATE privilege). It waits at most one second
 * for a lock.
 */
export async function triggerLoadFailure(session: Session, server: ServerInfo): Promise<string | null> {
  if (server.readOnly) return null
  const previous = await session.scalar<number>('SELECT @@SESSION.innodb_lock_wait_timeout')
  await session.run('SET SESSION innodb_lock_wait_timeout = 1')
  try {
    await session.run('START TRANSACTION')
    try {
      const [row] = await session.query<{ id: string }>('SELECT CAST(id AS CHAR) AS id FROM users ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED')
      if (row) await session.run('UPDATE users SET family_id = family_id WHERE id = ?', [row.id])
      return null
    } catch (error) {
      if (isInterruptedTriggerLoad(error)) return (error as Error).message.replace(/^.* - (?=Trigger|Unknown trigger)/s, '')
      if (CANNOT_TELL.has((error as { errno?: number }).errno ?? 0)) return null
      throw error
    } finally {
      await session.run('ROLLBACK')
    }
  } finally {
    await session.run('SET SESSION innodb_lock_wait_timeout = ?', [Number(previous ?? 50)])
  }
}
