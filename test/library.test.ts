import { spawnSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import parsePrometheus from 'parse-prometheus-text-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scopedMismatches } from '../src/check/consistency.js'
import { checkConsistency, repairFamilyIds, verifyTriggers, watchSyncQueue } from '../src/library.js'
import { packageRoot } from '../src/paths.js'
import { shippedCatalogue, STORED_OBJECTS } from '../src/db/catalogue.js'
import { runCli, startCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, rows, serverKnex, type TestDatabase } from './helpers/database.js'
import { install, queueLength } from './helpers/install.js'
import { populate } from './helpers/populate.js'
import { until } from './helpers/wait.js'

async function seedFamilies(db: TestDatabase) {
  await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')")
  await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'p1', 1), (2, 'p2', 2)")
  await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (10, 'c10', 1, 1), (11, 'c11', 1, 1), (12, 'c12', 2, 2)")
}

async function installedDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase()
  await seedFamilies(db)
  await install(db.knex)
  return db
}

describe('check, verify and repair around a dropped trigger', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await installedDatabase()
  })
  afterAll(() => db.drop())

  it('a mismatch made while a trigger is missing fails check and verify; repair fixes it with an audit row', async () => {
    await db.knex.raw('DROP TRIGGER inherit_parent_family_id_on_update')
    await db.knex.raw('UPDATE users SET family_id = 3 WHERE id = 11')

    const check = await runCli(['check', '--json', '--url', db.url])
    expect(check.code).toBe(1)
    const report = JSON.parse(check.stdout)
    // The child's own family change is queued (it might have children); it fixes nothing for the child itself.
    expect(report).toMatchObject({ ok: false, mismatchCount: 1, pendingCount: 0, familyId: null, queue: { pending: 1 } })
    expect(report.mismatches).toEqual([{ childId: 11, childUsername: 'c11', childFamilyId: 3, parentId: 1, parentUsername: 'p1', parentFamilyId: 1 }])

    const verify = await runCli(['verify', '--json', '--url', db.url])
    expect(verify.code).toBe(1)
    const v = JSON.parse(verify.stdout)
    expect(v.ok).toBe(false)
    expect(v.objects.find((o: { name: string }) => o.name === 'inherit_parent_family_id_on_update')).toMatchObject({ present: false, upToDate: false })
    expect(v.problems.join(' ')).toContain('inherit_parent_family_id_on_update is missing')
    // What a scrape sees of the same: one verify problem, the trigger absent and so not up to date, the others fine.
    const scraped = parsePrometheus((await runCli(['check', '--prometheus', '--url', db.url])).stdout) as Array<{ name: string; metrics: Array<{ value: string; labels?: Record<string, string> }> }>
    const sample = (name: string, object?: string) => scraped.find((f) => f.name === name)?.metrics.find((m) => !object || m.labels?.name === object)?.value
    expect(sample('family_sync_verify_problems')).toBe(String(v.problems.length))
    expect(v.problems.length).toBeGreaterThan(0)
    expect(sample('family_sync_object_present', 'inherit_parent_family_id_on_update')).toBe('0')
    expect(sample('family_sync_object_up_to_date', 'inherit_parent_family_id_on_update')).toBe('0')
    expect(sample('family_sync_object_up_to_date', 'sync_children_family_id')).toBe('1')
    expect(sample('family_sync_mismatches')).toBe('1')
    expect(sample('family_sync_mismatches_pending')).toBe('0')
    expect(sample('family_sync_ok')).toBe('0')

    const dry = await runCli(['repair', '--dry-run', '--json', '--url', db.url])
    expect(JSON.parse(dry.stdout)).toMatchObject({ fixed: 1, dryRun: true })
    expect(await familyOf(db.knex, 11)).toBe(3)

    const repair = await runCli(['repair', '--json', '--url', db.url])
    expect(repair.code).toBe(0)
    const result = JSON.parse(repair.stdout)
    expect(result).toMatchObject({ fixed: 1, dryRun: false })
    for (const key of ['batches', 'maxBatchMs', 'durationMs']) expect(typeof result[key]).toBe('number')
    expect(await familyOf(db.knex, 11)).toBe(1)
    expect(await rows(db.knex, "SELECT user_id, old_family_id, new_family_id FROM family_sync_audit WHERE reason = 'repair'")).toEqual([{ user_id: 11, old_family_id: 3, new_family_id: 1 }])
    expect((await runCli(['check', '--url', db.url])).code).toBe(0)
  })

  it('a trigger edited by hand is reported as not up to date; a comment-only difference is not', async () => {
    const original = shippedCatalogue().createStatement('inherit_parent_family_id_on_update')
    // Same logic, new layout and a comment, as a DBA's client might store it.
    const reformatted = original.replace(/\n\s*/g, '\n        ').replace('FOR EACH ROW', 'FOR EACH ROW /* reformatted by a DBA */').replace(/ = /g, '=')
    await db.knex.raw('DROP TRIGGER IF EXISTS inherit_parent_family_id_on_update')
    await db.knex.raw(reformatted)
    let report = await verifyTriggers(db.knex)
    expect(report.objects.find((o) => o.name === 'inherit_parent_family_id_on_update')?.upToDate).toBe(true)

    // One condition dropped: different logic.
    const edited = original.replace(' AND NEW.parent_id <> NEW.id', '')
    expect(edited).not.toBe(original)
    await db.knex.raw('DROP TRIGGER inherit_parent_family_id_on_update')
    await db.knex.raw(edited)
    report = await verifyTriggers(db.knex)
    expect(report.ok).toBe(false)
    expect(report.objects.find((o) => o.name === 'inherit_parent_family_id_on_update')).toMatchObject({ present: true, upToDate: false })
    expect(report.problems.join(' ')).toMatch(/inherit_parent_family_id_on_update differs from triggers\/.*run family-sync migrate up, which replaces it with triggers\/inherit_parent_family_id_on_update\.sql/)
    const cli = await runCli(['verify', '--url', db.url])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain('DIFFERS')
  })
})

describe('watchSyncQueue', () => {
  it('drains what the application queues while it runs, and resolves with the count once aborted', async () => {
    const db = await installedDatabase()
    const stop = new AbortController()
    try {
      const watching = watchSyncQueue(db.knex, { signal: stop.signal })
      await db.knex.raw('UPDATE users SET family_id = 3 WHERE id = 1')
      await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 1')
      const followed = await until(async () => (await familyOf(db.knex, 10)) === 2 && (await familyOf(db.knex, 11)) === 2, 10_000)
      stop.abort()
      const result = await watching
      expect(followed).toBe(true)
      expect(result.applied).toBeGreaterThanOrEqual(1)
      expect(result.calls).toBeGreaterThanOrEqual(1)
      expect(result.outages).toBe(0)
      expect(await queueLength(db.knex)).toBe(0)
    } finally {
      stop.abort()
      await db.drop()
    }
  })
})

describe('queued work in check', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await installedDatabase()
  })
  afterAll(() => db.drop())

  it('a mismatch whose parent is queued is pending and passes, until the entry is older than 10 s', async () => {
    await db.knex.raw('UPDATE users SET family_id = 3 WHERE id = 1')
    let report = await checkConsistency(db.knex)
    expect(report).toMatchObject({ ok: true, mismatchCount: 2, pendingCount: 2, queue: { pending: 1 } })
    expect(report.queue.oldestAgeSeconds).toBeLessThan(10)
    expect((await runCli(['check', '--url', db.url])).code).toBe(0)

    await db.knex.raw('UPDATE family_sync_queue SET enqueued_at = NOW(3) - INTERVAL 11 SECOND')
    report = await checkConsistency(db.knex)
    expect(report.ok).toBe(false)
    expect(report.queue.oldestAgeSeconds).toBeGreaterThan(10)
    expect((await runCli(['check', '--url', db.url])).code).toBe(1)
  })

  it('--prometheus prints metrics a real parser reads', async () => {
    const result = await runCli(['check', '--prometheus', '--url', db.url])
    const families = parsePrometheus(result.stdout) as Array<{ name: string; metrics: Array<{ value: string; labels?: Record<string, string> }> }>
    const value = (name: string) => Number(families.find((f) => f.name === name)?.metrics[0].value)
    expect(value('family_sync_mismatches')).toBe(2)
    // Both are children of the queued parent: pending, and no problem of their own.
    expect(value('family_sync_mismatches_pending')).toBe(2)
    expect(value('family_sync_queue_pending')).toBe(1)
    expect(value('family_sync_queue_oldest_age_seconds')).toBeGreaterThan(10)
    const present = families.find((f) => f.name === 'family_sync_object_present')!.metrics
    expect(present.map((m) => m.labels?.name).sort()).toEqual(STORED_OBJECTS.map((o) => o.name).sort())
    // The test helper drops the event (the scheduler is global); the metric says so.
    expect(present.find((m) => m.labels?.name === 'family_sync_drain_every_second')?.value).toBe('0')
    expect(present.find((m) => m.labels?.name === 'sync_children_family_id')?.value).toBe('1')
  })

  it('drain --watch stops on SIGTERM with exit 0 and leaves no half-applied entry', async () => {
    const child = startCli(['drain', '--watch', '--allow-privileged-account', '--url', db.url])
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    const deadline = Date.now() + 10_000
    while ((await queueLength(db.knex)) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await queueLength(db.knex)).toBe(0)
    expect(await familyOf(db.knex, 10)).toBe(3)
    expect(await familyOf(db.knex, 11)).toBe(3)
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve))
    child.kill('SIGTERM')
    expect(await exit).toBe(0)
    expect(output).toContain('stopped')
    expect((await checkConsistency(db.knex)).ok).toBe(true)
  })
})

describe('checkConsistency', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await seedFamilies(db)
    await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (20, 'c20', 1), (21, 'c21', 1), (22, 'c22', 2), (23, 'c23', 2)")
    await db.knex.raw('UPDATE users SET family_id = 3 WHERE id IN (10, 12)')
  })
  afterAll(() => db.drop())

  it('works before migrate up: no queue, nothing pending', async () => {
    const report = await checkConsistency(db.knex)
    expect(report).toMatchObject({ ok: false, mismatchCount: 6, pendingCount: 0, queue: { pending: 0, oldestAgeSeconds: null } })
  })

  it('returns at most limit rows, lowest child id first', async () => {
    const report = await checkConsistency(db.knex, { limit: 2 })
    expect(report.mismatchCount).toBe(6)
    expect(report.mismatches.map((m) => m.childId)).toEqual([10, 12])
  })

  it('scopes to one family, in both directions', async () => {
    const one = await checkConsistency(db.knex, { familyId: 1 })
    expect(one.familyId).toBe(1)
    expect(one.mismatches.map((m) => m.childId)).toEqual([10, 20, 21])
    const three = await checkConsistency(db.knex, { familyId: 3 })
    // Members of family 3 whose parents are elsewhere.
    expect(three.mismatches.map((m) => m.childId)).toEqual([10, 12])
  })

  it("repair leaves no trace of its session flag on the application's pooled connection", async () => {
    const installed = await installedDatabase()
    await installed.knex.raw('DROP TRIGGER inherit_parent_family_id_on_update')
    await installed.knex.raw('UPDATE users SET family_id = 3 WHERE id = 10')
    const { default: knexFactory } = await import('knex')
    const pooled = knexFactory({ client: 'mysql2', connection: installed.url, pool: { min: 1, max: 1 } })
    try {
      expect((await repairFamilyIds(pooled)).fixed).toBe(1)
      const [[row]] = (await pooled.raw('SELECT @family_sync_repairing AS flag')) as [[{ flag: unknown }]]
      expect(row.flag).toBeNull()
    } finally {
      await pooled.destroy()
      await installed.drop()
    }
  })

  it('the library never closes the knex it is given', async () => {
    await checkConsistency(db.knex)
    await repairFamilyIds(db.knex, { dryRun: true })
    const [[row]] = (await db.knex.raw('SELECT 1 AS one')) as [[{ one: number }]]
    expect(row.one).toBe(1)
  })
})

describe('repairFamilyIds over chains and cycles', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await installedDatabase()
    // Mismatches the triggers would have prevented: the repair's job.
    for (const name of ['inherit_parent_family_id_on_insert', 'inherit_parent_family_id_on_update', 'sync_children_family_id', 'sync_children_family_id_on_insert']) await db.knex.raw(`DROP TRIGGER ${name}`)
  })
  afterAll(() => db.drop())

  /** Inserts a chain under user 2 (family 2), every link in family 3, deepest first, with ids rising towards the top. */
  async function chainUnderUser2(firstId: number, depth: number): Promise<number[]> {
    const ids = Array.from({ length: depth }, (_, i) => firstId + i)
    for (const id of [...ids].reverse()) {
      const parent = id === firstId + depth - 1 ? 2 : id + 1
      await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (?, CONCAT('link ', ?), ?, 3)", [id, id, parent])
    }
    return ids
  }

  it('settles a chain whose children come before their parents, one link per pass, and counts nothing left', async () => {
    const ids = await chainUnderUser2(30, 3)
    const result = await repairFamilyIds(db.knex)
    expect(result).toMatchObject({ fixed: 3, passes: 3, remaining: 0 })
    for (const id of ids) expect(await familyOf(db.knex, id)).toBe(2)
  })

  it('breaks a parent_id cycle at its lowest row', async () => {
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (40, 'cycle a', 1)")
    await db.knex.raw("INSERT INTO users (id, username, parent_id, family_id) VALUES (41, 'cycle b', 40, 3)")
    await db.knex.raw('UPDATE users SET parent_id = 41 WHERE id = 40')
    const result = await repairFamilyIds(db.knex)
    expect(result).toMatchObject({ fixed: 1, remaining: 0 })
    expect([await familyOf(db.knex, 40), await familyOf(db.knex, 41)]).toEqual([3, 3])
  })

  it('settles a chain of any depth in one run: 150 levels, check counting the rows below the mismatch meanwhile', async () => {
    const ids = await chainUnderUser2(1000, 150)
    // Only the top link differs from its parent; the 149 below it match theirs, and all of them will change.
    const before = await checkConsistency(db.knex)
    expect(before).toMatchObject({ ok: false, mismatchCount: 1, descendantCount: 149 })
    expect(before.problems.join(' ')).toContain('and 149 rows below them')
    const result = await repairFamilyIds(db.knex)
    expect(result).toMatchObject({ fixed: 150, remaining: 0 })
    expect(result.passes).toBeGreaterThanOrEqual(150)
    for (const id of [ids[0], ids[75], ids.at(-1)!]) expect(await familyOf(db.knex, id)).toBe(2)
    expect(await checkConsistency(db.knex)).toMatchObject({ ok: true, mismatchCount: 0, descendantCount: 0 })
  })
})

describe('the per-family check on a populated table', () => {
  it('reads users through indexes only: no full scan', async () => {
    const db = await createTestDatabase()
    try {
      await populate(db.knex, 2000, 4)
      await db.knex.raw('ANALYZE TABLE users')
      const scope = scopedMismatches(8)
      // MySQL 9 explains as a tree by default; the table form is what both servers print alike.
      const explained = await db.knex.transaction(async (trx) => {
        await trx.raw("SET SESSION explain_format = 'TRADITIONAL'").catch(() => {})
        return rows<{ table: string; type: string; key: string | null }>(trx, `EXPLAIN SELECT COUNT(*) FROM (${scope.sql}) m`, scope.bindings as number[])
      })
      const onUsers = explained.filter((row) => row.table === 'p' || row.table === 'c')
      expect(onUsers.length).toBe(4)
      for (const row of onUsers) {
        expect(row.type, JSON.stringify(row)).not.toBe('ALL')
        expect(row.key, JSON.stringify(row)).not.toBeNull()
      }
      // Children n = 7, 2007, 4007, 6007 of parent 8 were left NULL.
      const report = await checkConsistency(db.knex, { familyId: 8 })
      expect(report.mismatchCount).toBe(4)
    } finally {
      await db.drop()
    }
  })
})

describe('a dropped definer', () => {
  it('is reported by verify before any write fails', async () => {
    const db = await createTestDatabase()
    const admin = serverKnex()
    const account = `fs_definer_${Date.now() % 100000}`
    try {
      await install(db.knex)
      await admin.raw(`CREATE USER ?@'localhost' IDENTIFIED BY 'x-password-1'`, [account])
      await admin.raw(`GRANT ALL ON ${'`'}${db.name}${'`'}.* TO ?@'localhost'`, [account])
      await db.knex.raw('DROP TRIGGER sync_children_family_id')
      const create = shippedCatalogue().createStatement('sync_children_family_id')
      await db.knex.raw(create.replace(/^CREATE TRIGGER/, `CREATE DEFINER = '${account}'@'localhost' TRIGGER`))
      expect((await verifyTriggers(db.knex)).objects.find((o) => o.name === 'sync_children_family_id')).toMatchObject({ upToDate: true, definerExists: true })
      await admin.raw(`DROP USER ?@'localhost'`, [account])
      const report = await verifyTriggers(db.knex)
      expect(report.ok).toBe(false)
      expect(report.objects.find((o) => o.name === 'sync_children_family_id')).toMatchObject({ present: true, definer: `${account}@localhost`, definerExists: false })
      expect(report.problems.join(' ')).toMatch(/no longer exists: every write to users fails with error 1449: run family-sync migrate up/)
      const cli = await runCli(['verify', '--url', db.url])
      expect(cli.code).toBe(1)
    } finally {
      await admin.raw(`DROP USER IF EXISTS ?@'localhost'`, [account])
      await admin.destroy()
      await db.drop()
    }
  })
})

describe('the built package, imported the way an application does', () => {
  it("import { checkConsistency } from 'family-sync' works with the application's own knex, which stays open", async () => {
    const db = await createTestDatabase()
    const app = mkdtempSync(join(tmpdir(), 'family-sync-app-'))
    try {
      await seedFamilies(db)
      mkdirSync(join(app, 'node_modules'))
      symlinkSync(packageRoot(), join(app, 'node_modules', 'family-sync'))
      symlinkSync(join(packageRoot(), 'node_modules', 'knex'), join(app, 'node_modules', 'knex'))
      writeFileSync(
        join(app, 'app.mjs'),
        `import knexFactory from 'knex'
         import { checkConsistency, verifyTriggers, repairFamilyIds, drainSyncQueue, createMigrator } from 'family-sync'
         const knex = knexFactory({ client: 'mysql2', connection: process.env.APP_DB })
         const report = await checkConsistency(knex, { familyId: 1 })
         const [[still]] = await knex.raw('SELECT 1 AS alive')
         console.log(JSON.stringify({ report, alive: still.alive, exports: [typeof verifyTriggers, typeof repairFamilyIds, typeof drainSyncQueue, typeof createMigrator] }))
         await knex.destroy()`,
      )
      const run = spawnSync(process.execPath, [join(app, 'app.mjs')], { env: { ...process.env, APP_DB: db.url }, encoding: 'utf8' })
      expect(run.stderr).toBe('')
      const out = JSON.parse(run.stdout)
      expect(out.alive).toBe(1)
      expect(out.exports).toEqual(['function', 'function', 'function', 'function'])
      expect(out.report).toMatchObject({ ok: true, mismatchCount: 0, familyId: 1 })
      expect(existsSync(join(packageRoot(), 'dist', 'src', 'index.d.ts'))).toBe(true)
    } finally {
      rmSync(app, { recursive: true, force: true })
      await db.drop()
    }
  })
})
