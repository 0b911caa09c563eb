import { drainSyncQueue } from '../src/drain/drain.js'
import { requireKnex } from '../src/migrator/context.js'
import { dropStatement, installStatements } from '../src/migrator/install.js'
import type { FamilySyncMigration } from '../src/migrator/types.js'

export const migration: FamilySyncMigration = {
  name: '0004_install_drain_procedure',
  async up(ctx) {
    await ctx.exec(...installStatements('family_sync_drain', 'procedure'))
  },
  async down(ctx) {
    if (ctx.mode === 'apply') {
      const result = await drainSyncQueue(requireKnex(ctx))
      if (result.applied > 0) ctx.reporter.info(`drained ${result.applied} queued parents before removing the procedure`)
    }
    await ctx.exec(dropStatement('family_sync_drain', 'procedure'))
  },
}
