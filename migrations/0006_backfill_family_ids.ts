import { requireKnex } from '../src/migrator/context.js'
import type { FamilySyncMigration } from '../src/migrator/types.js'
import { AUDIT_TABLE } from '../src/objects.js'
import { repairFamilyIds } from '../src/repair/engine.js'
import { settledMismatches } from '../src/repair/mismatch.js'

// Runs last: the triggers already guard every write, so nothing can slip
// between "repaired" and "guarded".
export const migration: FamilySyncMigration = {
  name: '0006_backfill_family_ids',
  async up(ctx) {
    if (ctx.mode === 'script') {
      const rows = settledMismatches('all')
      ctx.recorded.push(
        '-- 0006_backfill_family_ids: the CLI runs these in short batches by id range, sized to about 100 ms each;\n' +
          '-- as one transaction, repeat the pair until the UPDATE changes 0 rows (each run settles one level of a chain)',
        'START TRANSACTION',
        `INSERT INTO ${AUDIT_TABLE} (user_id, old_family_id, new_family_id, reason)\n  SELECT m.user_id, m.old_family_id, m.new_family_id, 'backfill' FROM (${rows}) m`,
        `UPDATE users u JOIN (${rows}) m ON m.user_id = u.id SET u.family_id = m.new_family_id`,
        'COMMIT',
      )
      return
    }
    const result = await repairFamilyIds(requireKnex(ctx), { reason: 'backfill', dryRun: ctx.mode === 'dry-run', progress: ctx.progress, batchMs: ctx.batchMs })
    ctx.reporter.info(
      ctx.mode === 'dry-run'
        ? `backfill would repair ${result.fixed} mismatched children`
        : `backfill repaired ${result.fixed} children in ${result.batches} batches (longest ${result.maxBatchMs} ms)`,
    )
  },
  // The repair is kept on the way down: family_sync_audit holds every old value.
  async down() {},
}
