import { requireKnex } from '../src/migrator/context.js'
import type { FamilySyncMigration } from '../src/migrator/types.js'
import { AUDIT_TABLE, QUEUE_TABLE } from '../src/objects.js'
import { repairFamilyIds } from '../src/repair/engine.js'
import { tableExists } from '../src/migrator/storage.js'

// Ids are BIGINT whatever users uses: every integer id fits, and the stored
// programs in triggers/ can declare one type for them.
const QUEUE_DDL = `CREATE TABLE IF NOT EXISTS ${QUEUE_TABLE} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  parent_id BIGINT NOT NULL,
  family_id BIGINT NOT NULL,
  enqueued_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY family_sync_queue_parent (parent_id)
) ENGINE=InnoDB COMMENT='family-sync: parents whose children must follow their family'`

const AUDIT_DDL = `CREATE TABLE IF NOT EXISTS ${AUDIT_TABLE} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  old_family_id BIGINT NULL,
  new_family_id BIGINT NULL,
  reason VARCHAR(16) NOT NULL,
  changed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY family_sync_audit_user (user_id)
) ENGINE=InnoDB COMMENT='family-sync: every users row family-sync changed, with its old family_id'`

export const migration: FamilySyncMigration = {
  name: '0002_create_sync_tables',
  async up(ctx) {
    await ctx.exec(QUEUE_DDL, AUDIT_DDL)
  },
  // The audit stays: it is the record of what was changed. Queue entries left
  // after the drain procedure is gone (writes between its removal and the
  // triggers') are applied by the repair engine before the queue is dropped.
  async down(ctx) {
    if (ctx.mode === 'apply') {
      const knex = requireKnex(ctx)
      if (await tableExists(knex, QUEUE_TABLE)) {
        const [rows] = (await knex.raw(`SELECT COUNT(*) AS n FROM ${QUEUE_TABLE}`)) as [Array<{ n: number }>]
        if (Number(rows[0].n) > 0) {
          const result = await repairFamilyIds(knex, { reason: 'down', progress: ctx.progress, batchMs: ctx.batchMs })
          ctx.reporter.info(`applied the last queued work: ${result.fixed} children changed`)
        }
      }
    }
    await ctx.exec(`DROP TABLE IF EXISTS ${QUEUE_TABLE}`)
  },
}
