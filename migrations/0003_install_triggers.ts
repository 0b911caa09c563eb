import { dropStatement, installStatements } from '../src/migrator/install.js'
import type { FamilySyncMigration } from '../src/migrator/types.js'
import { STORED_OBJECTS } from '../src/objects.js'

const TRIGGERS = STORED_OBJECTS.filter((object) => object.kind === 'trigger')

export const migration: FamilySyncMigration = {
  name: '0003_install_triggers',
  async up(ctx) {
    for (const trigger of TRIGGERS) await ctx.exec(...installStatements(trigger.name, trigger.kind))
  },
  // The queueing trigger goes first, so nothing is queued after the drain
  // procedure (removed by the previous step down) could have applied it.
  async down(ctx) {
    for (const trigger of [...TRIGGERS].reverse()) await ctx.exec(dropStatement(trigger.name, trigger.kind))
  },
}
