import type { Knex } from 'knex'

/**
 * Runs `work` on `connection` and watches, from `observer`, whether that
 * connection ever waits for a row lock meanwhile (information_schema.INNODB_TRX,
 * which MariaDB and MySQL both have: trx_state 'LOCK WAIT'). Counts a wait, not
 * a duration, so a loaded machine cannot make it pass or fail. `onWait` runs
 * when a wait is first seen (release the lock there, or the work may never end).
 */
export async function watchLockWaits<T>(
  observer: Knex,
  connectionId: number,
  work: () => Promise<T>,
  onWait: () => Promise<void> = async () => {},
): Promise<{ value: T; waited: boolean }> {
  let done = false
  let waited = false
  const running = work().finally(() => (done = true))
  while (!done) {
    const [found] = (await observer.raw("SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'", [connectionId])) as [Array<{ n: number }>]
    if (Number(found[0].n) > 0 && !waited) {
      waited = true
      await onWait()
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return { value: await running, waited }
}
