import { DRAIN_LOG_DDL } from '../src/db/tables.js'
import type { Migration } from '../src/migrator/steps.js'

// family_sync_drain_log, for an install made before it existed; a fresh one
// has it from 0002, so on one this changes nothing. Dropped by 0002 on the
// way down.
export const migration: Migration = {
  name: '0009_create_drain_log',
  up: [{ kind: 'ddl', sql: DRAIN_LOG_DDL }],
  down: [],
}
