import type { Migration } from '../src/migrator/steps.js'

// The queueing trigger goes first on the way down, so nothing is queued after
// the drain procedure (removed by the previous step down) could apply it.
export const migration: Migration = {
  name: '0003_install_triggers',
  up: [
    { kind: 'install', object: 'inherit_parent_family_id_on_insert' },
    { kind: 'install', object: 'inherit_parent_family_id_on_update' },
    { kind: 'install', object: 'sync_children_family_id' },
  ],
  down: [
    { kind: 'drop', object: 'sync_children_family_id' },
    { kind: 'drop', object: 'inherit_parent_family_id_on_update' },
    { kind: 'drop', object: 'inherit_parent_family_id_on_insert' },
  ],
}
