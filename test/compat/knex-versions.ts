// Compiled by `npm run typecheck` (part of `npm test`): the library's
// functions accept an application's knex whatever its version, 2.5 or 3.x,
// without casts. A knex whose type the library rejected (TS2379) fails here.
import { knex as knex25 } from 'knex25'
import knex3 from 'knex'
import { checkConsistency, createMigrator, drainSyncQueue, repairFamilyIds, verifyTriggers, watchSyncQueue, type FamilySyncMigrator } from '../../src/index.js'

export async function withEither(url: string): Promise<void> {
  for (const knex of [knex25({ client: 'mysql2', connection: url }), knex3({ client: 'mysql2', connection: url })]) {
    await checkConsistency(knex, { familyId: 1 })
    await verifyTriggers(knex)
    await repairFamilyIds(knex, { dryRun: true })
    await drainSyncQueue(knex)
    await watchSyncQueue(knex, { signal: AbortSignal.timeout(1) })
    const migrator: FamilySyncMigrator = createMigrator(knex)
    await migrator.status()
    await knex.destroy()
  }
}
