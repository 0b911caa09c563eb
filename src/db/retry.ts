// Deadlocks, lock-wait timeouts, Galera certification conflicts, Group
// Replication's rollback at commit (MySQL error 3101) and MariaDB 11.8's
// snapshot isolation refusing a row changed since the transaction's read
// view (1020, "Record has changed since last read") are normal under
// concurrent writes: the server rolled the work back, so running it again is
// safe. The pause grows, with jitter, up to two seconds.
const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_TRANSACTION_ROLLBACK_DURING_COMMIT', 'ER_CHECKREAD', 'FAMILY_SYNC_AUDIT_DRIFT'])
const RETRYABLE_ERRNO = new Set([1020, 1205, 1213, 3101])

/**
 * MariaDB parses a table's triggers when a statement opens the table. A
 * statement interrupted during that parse (a Galera conflict aborting it,
 * KILL QUERY, max_statement_time) fails with error 1064 "Trigger ... has an
 * error in its body" instead of the interruption's own error, although the
 * trigger is intact: the next statement loads it fine. Reproduced on MariaDB
 * 10.11 with KILL QUERY and on a Galera cluster with writes on every node.
 */
export function isInterruptedTriggerLoad(error: unknown): boolean {
  const e = error as { errno?: number; message?: string }
  if (e.errno === 1064) return /trigger has an error in its body|Trigger '.*' has an error in its body/.test(e.message ?? '')
  // The same half-read trigger body can take one of its table aliases for a
  // table: "Table '<db>.c' doesn't exist" (1146) for an application INSERT
  // while pt-online-schema-change swapped users. c, p and g are the aliases
  // in triggers/; the next statement loads the triggers whole.
  return e.errno === 1146 && /Table '[^']*\.(c|p|g)' doesn't exist/.test(e.message ?? '')
}

/**
 * MariaDB error 1467 "Failed to read auto-increment value from storage
 * engine": seen, like the 1064 above, for a write whose trigger inserts into
 * a table (family_sync_queue) that another session's interrupted statement
 * was opening (KILL QUERY during a rebuild of users). Running it again works.
 */
export function isInterruptedAutoIncrementRead(error: unknown): boolean {
  return (error as { errno?: number }).errno === 1467
}

/** True when the statement failed for a reason that running it again can cure; the server has rolled it back. */
export function isRetryable(error: unknown): boolean {
  const e = error as { code?: string; errno?: number }
  return RETRYABLE.has(e.code ?? '') || RETRYABLE_ERRNO.has(e.errno ?? 0) || isInterruptedTriggerLoad(error) || isInterruptedAutoIncrementRead(error)
}

/**
 * Runs `work` until it succeeds or fails for another reason; `attempts` bounds
 * it (Infinity: never give up). A trigger that keeps failing to load is not an
 * interruption but a broken trigger, so that error gives up after 20 whatever
 * `attempts` says.
 */
export async function withRetry<T>(work: () => Promise<T>, attempts = 20): Promise<{ value: T; retries: number }> {
  for (let retries = 0; ; retries++) {
    try {
      return { value: await work(), retries }
    } catch (error) {
      const limit = isInterruptedTriggerLoad(error) ? Math.min(attempts, 20) : attempts
      if (!isRetryable(error) || retries + 1 >= limit) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 20 * 2 ** retries) * (0.5 + Math.random() / 2)))
    }
  }
}
