import { MIGRATION_COLUMNS, MIGRATIONS_TABLE, OBJECT_COLUMNS, OBJECTS_TABLE } from '../src/db/tables.js'
import type { Migration } from '../src/migrator/steps.js'

// Every record says which version of family-sync wrote it, and each object
// whom it was installed for. Rows written before keep their values; the new
// columns are NULL there ("0.2 or earlier"). Nothing to undo on the way down:
// 0002 drops family_sync_objects, and the migration records stay.
export const migration: Migration = {
  name: '0008_record_owners_and_versions',
  up: [
    { kind: 'columns', table: MIGRATIONS_TABLE, columns: MIGRATION_COLUMNS },
    { kind: 'columns', table: OBJECTS_TABLE, columns: OBJECT_COLUMNS },
  ],
  down: [],
}
