import { FamilySyncError } from '../src/errors.js'
import { requireKnex } from '../src/migrator/context.js'
import type { FamilySyncMigration } from '../src/migrator/types.js'
import { runPreflight } from '../src/schema/preflight.js'

// Reads only. Runs first so that nothing is created in a database that cannot
// take the rest: a missing column or grant is named before any change.
export const migration: FamilySyncMigration = {
  name: '0001_preflight',
  async up(ctx) {
    if (ctx.mode === 'script') {
      ctx.recorded.push('-- 0001_preflight: checks server version, users/families columns, privileges and binary logging (reads only)')
      return
    }
    const report = await runPreflight(requireKnex(ctx))
    ctx.reporter.info(`preflight: ${report.server.flavour} ${report.server.version}, database '${report.server.database}' as ${report.server.currentUser}`)
    // A failing preflight prints its one line only (SPEC §6); warnings wait for a run that can go on.
    if (report.problems.length > 0) {
      const count = report.problems.length === 1 ? '1 problem' : `${report.problems.length} problems`
      throw new FamilySyncError(`preflight found ${count}, nothing was changed: ${report.problems.join('; ')}`)
    }
    for (const warning of report.warnings) ctx.reporter.warn(warning)
  },
  async down() {},
}
