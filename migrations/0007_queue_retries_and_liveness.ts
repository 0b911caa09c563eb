import { DRAIN_RUNS_DDL, OBJECTS_DDL, QUEUE_COLUMNS, QUEUE_TABLE } from '../src/db/tables.js'
import type { Migration } from '../src/migrator/steps.js'

// Brings an install made by an earlier version to the current shape: the
// queue's retry and chunking columns, the drain's run record and the object
// checksums. A fresh install already has all of it from 0002, so on one this
// changes nothing. Dropped with the queue by 0002 on the way down.
export const migration: Migration = {
  name: '0007_queue_retries_and_liveness',
  up: [{ kind: 'columns', table: QUEUE_TABLE, columns: QUEUE_COLUMNS }, { kind: 'ddl', sql: OBJECTS_DDL }, { kind: 'ddl', sql: DRAIN_RUNS_DDL }],
  down: [],
}
