import type { Migration } from '../src/migrator/steps.js'

// Runs after the triggers: they already guard every write, so nothing can
// slip between "repaired" and "guarded". Repairs are kept on the way down:
// family_sync_audit holds every old value.
export const migration: Migration = {
  name: '0006_backfill_family_ids',
  up: [{ kind: 'backfill' }],
  down: [],
}
