import type { Migration } from '../src/migrator/steps.js'

export const migration: Migration = {
  name: '0004_install_drain_procedure',
  up: [
    { kind: 'install', object: 'family_sync_drain' },
    { kind: 'install', object: 'family_sync_move_children' },
    { kind: 'install', object: 'family_sync_status' },
  ],
  down: [
    { kind: 'drain' },
    { kind: 'drop', object: 'family_sync_status' },
    { kind: 'drop', object: 'family_sync_move_children' },
    { kind: 'drop', object: 'family_sync_drain' },
  ],
}
