// family-sync's own tables. Ids are BIGINT whatever users uses: every integer
// id fits, and the stored programs in triggers/ can declare one type for them.

export const QUEUE_TABLE = 'family_sync_queue'
export const AUDIT_TABLE = 'family_sync_audit'
export const MIGRATIONS_TABLE = 'family_sync_migrations'
export const OBJECTS_TABLE = 'family_sync_objects'
export const DRAIN_RUNS_TABLE = 'family_sync_drain_runs'
export const LOCK_TABLE = 'family_sync_lock'
export const DRAIN_LOG_TABLE = 'family_sync_drain_log'

/**
 * The outbox. attempts, last_error, retry_at and parked_at let one entry that
 * keeps failing step aside instead of holding up every later one;
 * resume_from_child and claimed_until let a big family be applied in chunks
 * of a thousand children, one short transaction each.
 */
export const QUEUE_COLUMNS: ReadonlyArray<[name: string, definition: string]> = [
  ['attempts', 'INT NOT NULL DEFAULT 0'],
  ['last_error', 'VARCHAR(512) NULL'],
  ['retry_at', 'TIMESTAMP(3) NULL'],
  ['parked_at', 'TIMESTAMP(3) NULL'],
  ['resume_from_child', 'BIGINT NULL'],
  ['claimed_until', 'TIMESTAMP(3) NULL'],
]

export const QUEUE_DDL = `CREATE TABLE IF NOT EXISTS ${QUEUE_TABLE} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  parent_id BIGINT NOT NULL,
  family_id BIGINT NOT NULL,
  enqueued_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
${QUEUE_COLUMNS.map(([name, definition]) => `  ${name} ${definition},`).join('\n')}
  KEY family_sync_queue_parent (parent_id)
) ENGINE=InnoDB COMMENT='family-sync: parents whose children must follow their family'`

export const AUDIT_DDL = `CREATE TABLE IF NOT EXISTS ${AUDIT_TABLE} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  old_family_id BIGINT NULL,
  new_family_id BIGINT NULL,
  reason VARCHAR(16) NOT NULL,
  changed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY family_sync_audit_user (user_id)
) ENGINE=InnoDB COMMENT='family-sync: every users row family-sync changed, with its old family_id'`

/**
 * Columns added after the first release: which version of family-sync wrote
 * a record, and who an object was installed for. NULL in rows written before
 * they existed (by 0.2 or earlier).
 */
export const MIGRATION_COLUMNS: ReadonlyArray<[name: string, definition: string]> = [['version', 'VARCHAR(32) NULL']]

export const MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  name VARCHAR(255) NOT NULL PRIMARY KEY,
  executed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
${MIGRATION_COLUMNS.map(([name, definition]) => `  ${name} ${definition}`).join(',\n')}
) ENGINE=InnoDB COMMENT='family-sync: which migrations ran, when, and by which version'`

/**
 * definer and security_type are what migrate up installed each object for:
 * verify reports an object whose owner has changed since (a routine replaced
 * by another account runs that account's code), and migrate up puts it back.
 */
export const OBJECT_COLUMNS: ReadonlyArray<[name: string, definition: string]> = [
  ['definer', 'VARCHAR(300) NULL'],
  ['security_type', 'VARCHAR(16) NULL'],
  ['version', 'VARCHAR(32) NULL'],
]

export const OBJECTS_DDL = `CREATE TABLE IF NOT EXISTS ${OBJECTS_TABLE} (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  kind VARCHAR(16) NOT NULL,
  checksum CHAR(64) NOT NULL,
  installed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
${OBJECT_COLUMNS.map(([name, definition]) => `  ${name} ${definition}`).join(',\n')}
) ENGINE=InnoDB COMMENT='family-sync: each stored object as last installed from triggers/, for whom, by which version'`

export const DRAIN_RUNS_DDL = `CREATE TABLE IF NOT EXISTS ${DRAIN_RUNS_TABLE} (
  node VARCHAR(255) NOT NULL PRIMARY KEY,
  last_run_at TIMESTAMP(3) NOT NULL,
  last_applied INT NOT NULL DEFAULT 0
) ENGINE=InnoDB COMMENT='family-sync: when each server last ran family_sync_drain'`

/**
 * What the drain did with each entry: applied (with the time from enqueued to
 * applied), failed, or parked. family-sync serve turns it into metrics,
 * whichever server or process applied the entry. The drain keeps an hour.
 */
export const DRAIN_LOG_DDL = `CREATE TABLE IF NOT EXISTS ${DRAIN_LOG_TABLE} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  logged_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  outcome VARCHAR(8) NOT NULL,
  delay_ms BIGINT NULL
) ENGINE=InnoDB COMMENT='family-sync: what the drain did with each entry, kept an hour'`

// Only on Galera, where GET_LOCK holds on one node: a lease row the whole
// cluster agrees on, because a committed row is certified cluster-wide.
export const LOCK_DDL = `CREATE TABLE IF NOT EXISTS ${LOCK_TABLE} (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  owner VARCHAR(255) NULL,
  expires_at TIMESTAMP(3) NULL
) ENGINE=InnoDB COMMENT='family-sync: the migration lock on Galera'`

/** Every table family-sync makes: its stored programs and commands read and write these by name. */
export const OUR_TABLES: readonly string[] = [QUEUE_TABLE, AUDIT_TABLE, MIGRATIONS_TABLE, OBJECTS_TABLE, DRAIN_RUNS_TABLE, LOCK_TABLE, DRAIN_LOG_TABLE]
