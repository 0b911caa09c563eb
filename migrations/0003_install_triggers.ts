import type { Migration } from '../src/migrator/steps.js'

// The queueing triggers go first on the way down, so little is queued after
// the drain procedure (removed by the previous step down) could apply it;
// what is (the update trigger queues a parent now and then) is settled
// before the queue goes.
export const migration: Migration = {
  name: '0003_install_triggers',
  up: [
    { kind: 'install', object: 'inherit_parent_family_id_on_insert' },
    { kind: 'install', object: 'inherit_parent_family_id_on_update' },
    { kind: 'install', object: 'sync_children_family_id' },
    { kind: 'install', object: 'sync_children_family_id_on_insert' },
  ],
  down: [
    { kind: 'drop', object: 'sync_children_family_id_on_insert' },
    { kind: 'drop', object: 'sync_children_family_id' },
    { kind: 'drop', object: 'inherit_parent_family_id_on_update' },
    { kind: 'drop', object: 'inherit_parent_family_id_on_insert' },
  ],
}
