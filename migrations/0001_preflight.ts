import type { Migration } from '../src/migrator/steps.js'

// Reads only. Runs first so that nothing is created in a database that cannot
// take the rest: a missing column or grant is named before any change.
export const migration: Migration = {
  name: '0001_preflight',
  up: [{ kind: 'preflight' }],
  down: [],
}
