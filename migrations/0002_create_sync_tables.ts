import { AUDIT_DDL, DRAIN_LOG_DDL, DRAIN_LOG_TABLE, DRAIN_RUNS_DDL, DRAIN_RUNS_TABLE, OBJECTS_DDL, OBJECTS_TABLE, QUEUE_DDL, QUEUE_TABLE } from '../src/db/tables.js'
import type { Migration } from '../src/migrator/steps.js'

// The audit stays on the way down: it is the record of what was changed.
// Queue entries left after the drain procedure is gone (writes between its
// removal and the triggers') are settled before the queue is dropped.
export const migration: Migration = {
  name: '0002_create_sync_tables',
  up: [
    { kind: 'ddl', sql: QUEUE_DDL },
    { kind: 'ddl', sql: AUDIT_DDL },
    { kind: 'ddl', sql: OBJECTS_DDL },
    { kind: 'ddl', sql: DRAIN_RUNS_DDL },
    { kind: 'ddl', sql: DRAIN_LOG_DDL },
  ],
  down: [
    { kind: 'settle-queue' },
    { kind: 'ddl', sql: `DROP TABLE IF EXISTS ${QUEUE_TABLE}` },
    { kind: 'ddl', sql: `DROP TABLE IF EXISTS ${DRAIN_RUNS_TABLE}` },
    { kind: 'ddl', sql: `DROP TABLE IF EXISTS ${DRAIN_LOG_TABLE}` },
    { kind: 'ddl', sql: `DROP TABLE IF EXISTS ${OBJECTS_TABLE}` },
  ],
}
