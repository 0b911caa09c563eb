// Every tunable default in one place, so the CLI's --help, the library's
// options and the README cannot drift apart.

/** Target duration of one backfill or repair transaction. */
export const BATCH_MS = 100

/**
 * Session lock_wait_timeout for every statement that waits for a table or
 * metadata lock. Application statements queue behind a waiting DDL statement,
 * so this is also the longest they can be held up by one attempt.
 */
export const LOCK_WAIT_SECONDS = 2

/** How long `migrate` waits for another migrate, and retries a DDL statement that times out. */
export const LOCK_TIMEOUT_SECONDS = 120

/** Queued work older than this fails `check`. */
export const QUEUE_MAX_AGE_SECONDS = 10

/** With the drain event expected to run, no drain run for this long fails `check`. */
export const DRAIN_STALE_SECONDS = 10

/** Sample mismatches `check` returns. */
export const CHECK_LIMIT = 100
export const CHECK_LIMIT_MAX = 1_000_000

/** Queue entries one call of family_sync_drain applies at most. */
export const DRAIN_ENTRIES_PER_CALL = 500

/** How long one `drain --watch` call keeps polling inside the server. */
export const WATCH_POLL_SECONDS = 1

/**
 * The sql_mode of every session family-sync installs from. Stored programs
 * keep the sql_mode they were created with, so a server-wide ANSI_QUOTES,
 * NO_BACKSLASH_ESCAPES or ORACLE mode must not reach them. Valid on MySQL 8
 * and MariaDB alike; NO_ZERO_IN_DATE and NO_ZERO_DATE are there because MySQL
 * warns (3135) on every SET of a strict mode without them. In the order the
 * servers print it, so a session already in it is recognised.
 */
export const SQL_MODE = 'STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'
