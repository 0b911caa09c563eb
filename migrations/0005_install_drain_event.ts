import { requireKnex } from '../src/migrator/context.js'
import { dropStatement, installStatements } from '../src/migrator/install.js'
import type { FamilySyncMigration } from '../src/migrator/types.js'
import { eventWarnings } from '../src/schema/preflight.js'
import { readPrivileges, readServerInfo } from '../src/schema/server.js'

export const migration: FamilySyncMigration = {
  name: '0005_install_drain_event',
  async up(ctx) {
    if (ctx.mode !== 'script') {
      const knex = requireKnex(ctx)
      const server = await readServerInfo(knex)
      const { canCreate, warnings } = eventWarnings(server, await readPrivileges(knex, server.currentUser))
      for (const warning of warnings) ctx.reporter.warn(warning)
      if (!canCreate) return
    }
    await ctx.exec(...installStatements('family_sync_drain_every_second', 'event'))
  },
  async down(ctx) {
    await ctx.exec(dropStatement('family_sync_drain_every_second', 'event'))
  },
}
