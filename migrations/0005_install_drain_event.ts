import type { Migration } from '../src/migrator/steps.js'

// Without the EVENT privilege the runner warns and installs the rest: the
// drain can run beside the application instead (`family-sync drain --watch`).
export const migration: Migration = {
  name: '0005_install_drain_event',
  up: [{ kind: 'install', object: 'family_sync_drain_every_second' }],
  down: [{ kind: 'drop', object: 'family_sync_drain_every_second' }],
}
