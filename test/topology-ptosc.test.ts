import { isRetryableWriteError } from '../src/library.js'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, rows, serverKnex, serverUrl, type TestDatabase } from './helpers/database.js'
import { mismatchCount } from './helpers/family.js'
import { install } from './helpers/install.js'
import { populate } from './helpers/populate.js'
import { describeWhen } from './helpers/requires.js'

const PT_OSC = ['/usr/bin/pt-online-schema-change', '/usr/local/bin/pt-online-schema-change'].find(existsSync)

// The README's recipe: pt-osc copies users into a new table and swaps it in.
// --recursion-method=none: percona-toolkit 3.5 (Debian 12's) looks for
// replicas with SHOW SLAVE HOSTS, which MySQL 8.4+ no longer has; the test
// server has no replicas to watch.
export const RECIPE = ['--preserve-triggers', '--no-check-foreign-keys', '--alter-foreign-keys-method=rebuild_constraints', '--recursion-method=none']

function dsn(db: TestDatabase): string {
  const server = new URL(serverUrl())
  const password = decodeURIComponent(server.password)
  return `h=${server.hostname},P=${server.port || 3306},u=${decodeURIComponent(server.username) || 'root'}${password ? `,p=${password}` : ''},D=${db.name},t=users`
}

function ptOsc(db: TestDatabase, extra: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(PT_OSC!, ['--alter', 'ADD COLUMN nickname VARCHAR(50) NULL', ...extra, '--execute', dsn(db)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

describeWhen(PT_OSC, 'needs pt-online-schema-change (Debian: apt-get install percona-toolkit)')('pt-online-schema-change on users, with family-sync installed', () => {
  it('refuses without --preserve-triggers, changing nothing', async () => {
    const db = await createTestDatabase()
    try {
      await populate(db.knex, 50, 4)
      await install(db.knex)
      const run = await ptOsc(db, ['--recursion-method=none', '--no-check-foreign-keys', '--alter-foreign-keys-method=rebuild_constraints'])
      expect(run.code).not.toBe(0)
      expect(run.output).toMatch(/triggers/i)
      expect((await runCli(['verify', '--json', '--url', db.url])).stdout).toContain('"upToDate": true')
    } finally {
      await db.drop()
    }
  }, 150_000)

  it('with the README recipe alters users under writers: our triggers come out identical, no row is lost, check then repair settle the swap window', async () => {
    const db = await createTestDatabase()
    try {
      await populate(db.knex, 400, 5)
      await install(db.knex)
      const [[{ n0: before }]] = (await db.knex.raw("SELECT COUNT(*) AS n0 FROM users")) as [[{ n0: number }]]
      const writer = serverKnex(db.name)
      let stop = false
      let inserted = 0
      let retried = 0
      const unexpected: string[] = []
      const writing = (async () => {
        for (let i = 0; !stop; i++) {
          try {
            if (i % 3 === 0) {
              await writer.raw("INSERT INTO users (username, parent_id) VALUES ('during', ?)", [1 + (i % 400)])
              inserted++
            } else if (i % 3 === 1) await writer.raw('UPDATE users SET family_id = ? WHERE id = ?', [1 + ((i * 7) % 400), 1 + (i % 400)])
            else await writer.raw('UPDATE users SET parent_id = ? WHERE id = ?', [1 + ((i * 3) % 400), 401 + (i % 2000)])
          } catch (error) {
            // The swap's metadata lock can time a statement out, as any DDL's can: such a
            // write is retried by the application. Anything else is a failure family-sync caused.
            if (isRetryableWriteError(error)) retried++
            else unexpected.push(`${(error as { errno?: number }).errno}: ${(error as Error).message}`)
          }
        }
      })()
      const run = await ptOsc(db, RECIPE)
      stop = true
      await writing
      await writer.destroy()
      expect(run.code, run.output).toBe(0)
      expect(run.output).toContain('Successfully altered')
      expect(unexpected).toEqual([])

      const [[{ n1: after }]] = (await db.knex.raw('SELECT COUNT(*) AS n1 FROM users')) as [[{ n1: number }]]
      expect(Number(after)).toBe(Number(before) + inserted)
      expect((await rows(db.knex, "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'nickname'"))[0]).toEqual({ n: 1 })
      const verify = JSON.parse((await runCli(['verify', '--json', '--url', db.url])).stdout)
      expect(verify.objects.filter((o: { kind: string }) => o.kind === 'trigger').every((o: { upToDate: boolean }) => o.upToDate)).toBe(true)
      expect(verify.foreignTriggers).toEqual([])

      // What the README says to do afterwards: drain, check, and repair if check exits 1.
      await runCli(['drain', '--url', db.url])
      const check = await runCli(['check', '--url', db.url])
      console.log(`pt-osc under writers: ${inserted} rows inserted during the copy, ${retried} writes to retry (lock waits); check after the swap exited ${check.code}: ${check.stdout.split('\n')[0]}`)
      if (check.code === 1) expect((await runCli(['repair', '--url', db.url])).code).toBe(0)
      expect((await runCli(['check', '--url', db.url])).code).toBe(0)
      expect(await mismatchCount(db.knex)).toBe(0)
    } finally {
      await db.drop()
    }
  }, 180_000)
})

