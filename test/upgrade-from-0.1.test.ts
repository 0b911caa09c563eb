import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { splitScript } from '../src/sql/lexer.js'
import { packageRoot } from '../src/paths.js'
import { STORED_OBJECTS } from '../src/db/catalogue.js'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, rows } from './helpers/database.js'
import { holdDrainEvent } from './helpers/install.js'

// The last commit of family-sync 0.1 whose objects a database may still hold.
const EARLIER = 'f7b7acf'

function earlierFile(path: string): string {
  const show = spawnSync('git', ['show', `${EARLIER}:${path}`], { cwd: packageRoot(), encoding: 'utf8' })
  if (show.status !== 0) throw new Error(`this test reads family-sync 0.1 from git history (${EARLIER}): ${show.stderr}`)
  return show.stdout
}

// The objects 0.1 had; later versions added others, which migrate up installs as missing ones.
const EARLIER_OBJECTS = STORED_OBJECTS.filter((o) => spawnSync('git', ['cat-file', '-e', `${EARLIER}:triggers/${o.name}.sql`], { cwd: packageRoot() }).status === 0)

const EARLIER_QUEUE = `CREATE TABLE family_sync_queue (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  parent_id BIGINT NOT NULL,
  family_id BIGINT NOT NULL,
  enqueued_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY family_sync_queue_parent (parent_id)
) ENGINE=InnoDB`

describe('a database installed by family-sync 0.1', () => {
  it('is brought up to date by migrate up alone: new columns and tables, every object replaced, queued work kept', async () => {
    const db = await createTestDatabase()
    let releaseEvent = async () => {}
    try {
      // What 0.1's migrate up left: its tables, its six migrations, its objects.
      await db.knex.raw(EARLIER_QUEUE)
      await db.knex.raw(`CREATE TABLE family_sync_audit (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, user_id BIGINT NOT NULL,
        old_family_id BIGINT NULL, new_family_id BIGINT NULL, reason VARCHAR(16) NOT NULL,
        changed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB`)
      await db.knex.raw('CREATE TABLE family_sync_migrations (name VARCHAR(255) NOT NULL PRIMARY KEY, executed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB')
      for (const name of ['0001_preflight', '0002_create_sync_tables', '0003_install_triggers', '0004_install_drain_procedure', '0005_install_drain_event', '0006_backfill_family_ids']) {
        await db.knex.raw('INSERT INTO family_sync_migrations (name) VALUES (?)', [name])
      }
      // 0.1's event is left out: it has no guard a test can hold, and with the scheduler ON (as on
      // MySQL) it would drain the entry this test follows. migrate up installs the current one.
      for (const object of EARLIER_OBJECTS.filter((o) => o.kind !== 'event')) {
        const [create] = splitScript(earlierFile(`triggers/${object.name}.sql`))
        await db.knex.raw(create)
      }
      releaseEvent = await holdDrainEvent(db.name)
      // Work 0.1's triggers queued before the upgrade.
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
      await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1)")
      await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 1')
      expect(await rows(db.knex, 'SELECT parent_id FROM family_sync_queue')).toEqual([{ parent_id: 1 }])

      // Every object changed since 0.1 (or did not exist then): all are pending.
      const changed = STORED_OBJECTS
      const status = JSON.parse((await runCli(['migrate', 'status', '--json', '--url', db.url])).stdout)
      expect(status.pending).toEqual(['0007_queue_retries_and_liveness', '0008_record_owners_and_versions', '0009_create_drain_log', ...changed.map((o) => o.name)])

      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain('migrated 0007_queue_retries_and_liveness')
      for (const object of changed) expect(up.stdout).toContain(`installed ${object.kind} ${object.name}`)
      const verify = await runCli(['verify', '--url', db.url])
      expect(verify.code, verify.stdout).toBe(0)

      // The queued entry survived and the new procedure applies it.
      expect((await runCli(['drain', '--url', db.url])).stdout).toContain('drained 1 queued parents')
      expect(await familyOf(db.knex, 2)).toBe(2)
      expect((await runCli(['migrate', 'up', '--url', db.url])).stdout).toContain('nothing to migrate')
    } finally {
      await releaseEvent()
      await db.drop()
    }
  })
})
