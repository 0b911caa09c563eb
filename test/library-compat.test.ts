import { holdDrainEvent } from './helpers/install.js'
import { MIGRATION_NAMES } from '../migrations/index.js'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { knex as knex25 } from 'knex25'
import knex3 from 'knex'
import { describe, expect, it } from 'vitest'
import { checkConsistency, createMigrator, drainSyncQueue, repairFamilyIds, verifyTriggers } from '../src/index.js'
import { packageRoot } from '../src/paths.js'
import { createTestDatabase, familyOf } from './helpers/database.js'
import { createFamily, insertBugReportPeople } from './helpers/family.js'

describe("the application's own knex, with a pool of one connection", () => {
  for (const [version, factory] of [['2.5', knex25], ['3.x', knex3]] as const) {
    it(`knex ${version}: migrate up, check, verify, repair and drain share one connection and leave it as lent`, async () => {
      const db = await createTestDatabase()
      let release = async () => {}
      // The two versions' types differ; the library needs neither, the test talks to it as knex 3.
      const app = factory({ client: 'mysql2', connection: db.url, pool: { min: 1, max: 1 }, acquireConnectionTimeout: 10_000 }) as unknown as ReturnType<typeof knex3>
      try {
        await insertBugReportPeople(db.knex)
        await createFamily(db.knex, 2, 'Sela', 1)
        await app.raw("SET SESSION sql_mode = 'ANSI_QUOTES'")
        const result = await createMigrator(app, { lockTimeoutSeconds: 10 }).up()
        expect(result.migrations).toEqual(MIGRATION_NAMES)
        expect((await checkConsistency(app)).ok).toBe(true)
        expect((await verifyTriggers(app)).problems).toEqual([])
        expect((await repairFamilyIds(app)).fixed).toBe(0)
        // The event (scheduler ON, MySQL's default) must not drain the entry this call is to drain.
        release = await holdDrainEvent(db.name)
        await db.knex.raw('UPDATE users SET family_id = NULL WHERE id = 2')
        await db.knex.raw("INSERT INTO families (id, name) VALUES (2, 'Other')")
        await db.knex.raw('UPDATE users SET family_id = 2 WHERE id = 2')
        expect((await drainSyncQueue(app)).applied).toBe(1)
        expect(await familyOf(db.knex, 3)).toBe(2)
        expect((await createMigrator(app).status()).pending).toEqual([])
        // The one connection came back with the application's sql_mode, and the knex is open.
        const [[row]] = (await app.raw('SELECT @@SESSION.sql_mode AS mode, @family_sync_repairing AS flag')) as unknown as [[{ mode: string; flag: unknown }]]
        expect(row).toEqual({ mode: 'ANSI_QUOTES', flag: null })
      } finally {
        await release()
        await app.destroy()
        await db.drop()
      }
    }, 60_000)
  }
})

describe('importing the package', () => {
  it('loads no driver, Umzug, prom-client or knex, and reads no file', () => {
    // A loader hook reports every module resolved; fs is watched from before the import.
    const script = `
      import { MessageChannel } from 'node:worker_threads'
      import fs from 'node:fs'
      import { syncBuiltinESMExports, register } from 'node:module'
      const { port1, port2 } = new MessageChannel()
      const loaded = []
      port1.on('message', (url) => loaded.push(url))
      port1.unref()
      register('data:text/javascript,' + encodeURIComponent(\`
        let port
        export async function initialize(data) { port = data.port }
        export async function resolve(specifier, context, next) {
          const resolved = await next(specifier, context)
          port.postMessage(resolved.url)
          return resolved
        }
      \`), import.meta.url, { data: { port: port2 }, transferList: [port2] })
      const reads = []
      for (const name of ['readFileSync', 'existsSync', 'readdirSync', 'statSync']) {
        const original = fs[name]
        fs[name] = (...args) => (reads.push(String(args[0])), original(...args))
      }
      syncBuiltinESMExports()
      const lib = await import(${JSON.stringify(join(packageRoot(), 'dist', 'src', 'index.js'))})
      await new Promise((resolve) => setTimeout(resolve, 100))
      console.log(JSON.stringify({ exports: Object.keys(lib).sort(), loaded, reads: reads.filter((r) => !r.includes('/node_modules/') && !r.endsWith('.js')) }))`
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    const { exports, loaded, reads } = JSON.parse(run.stdout) as { exports: string[]; loaded: string[]; reads: string[] }
    expect(exports).toEqual(expect.arrayContaining(['checkConsistency', 'createMigrator', 'drainSyncQueue', 'repairFamilyIds', 'verifyTriggers', 'watchSyncQueue']))
    expect(loaded.some((url) => url.endsWith('/dist/src/library.js'))).toBe(true)
    const packages = loaded.filter((url) => url.includes('/node_modules/')).map((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1])
    for (const heavy of ['mysql2', 'umzug', 'prom-client', 'knex', 'commander', 'cli-progress']) expect(packages, heavy).not.toContain(heavy)
    expect(reads).toEqual([])
  })
})
