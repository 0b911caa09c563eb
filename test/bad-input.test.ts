import { createServer, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, serverUrl, type TestDatabase } from './helpers/database.js'
import { createFamily, insertBugReportPeople, mismatchCount } from './helpers/family.js'

describe('bad input', () => {
  it('a host that never answers fails within a few seconds, not a minute', async () => {
    // A loopback listener that accepts and never speaks: what a black-holed host looks like.
    const sockets: Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    try {
      const started = Date.now()
      const result = await runCli(['check', '--url', `mysql://root:hidden-pw@127.0.0.1:${port}/db`])
      const elapsed = Date.now() - started
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/no answer in time/)
      expect(result.stderr).not.toContain('hidden-pw')
      expect(elapsed).toBeLessThan(10_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })

  it('no stack trace unless DEBUG is set', async () => {
    const url = 'mysql://root:pw-in-url@127.0.0.1:1/db'
    const plain = await runCli(['verify', '--url', url])
    expect(plain.stderr).not.toMatch(/^\s+at /m)
    const debug = await runCli(['verify', '--url', url], { env: { DEBUG: 'family-sync' } })
    expect(debug.code).toBe(2)
    expect(debug.stderr).toMatch(/^\s+at /m)
    expect(debug.stderr).not.toContain('pw-in-url')
  })

  it('--limit and --step take whole numbers only', async () => {
    for (const args of [['check', '--limit', '-1'], ['check', '--limit', '1e3'], ['migrate', 'down', '--step', 'two']]) {
      const result = await runCli([...args, '--url', 'mysql://root@127.0.0.1:1/x'])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr).toMatch(/takes a whole number/)
    }
  })

  it('migrate up --to an unknown migration is refused before connecting', async () => {
    const result = await runCli(['migrate', 'up', '--to', 'nope', '--url', 'mysql://root@127.0.0.1:1/x'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("unknown migration 'nope'")
  })
})

describe('a database name with quotes and backticks', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase({ suffix: `q'uo"te\`s` })
    await insertBugReportPeople(db.knex)
    await createFamily(db.knex, 2, 'Sela', 1)
  })
  afterAll(() => db.drop())

  it('migrate up, verify and check work on it: names are bound or quoted, never pasted', async () => {
    const up = await runCli(['migrate', 'up', '--url', db.url])
    expect(up.code, up.stderr).toBe(0)
    expect(await mismatchCount(db.knex)).toBe(0)
    const verify = await runCli(['verify', '--json', '--url', db.url])
    expect(JSON.parse(verify.stdout).objects.every((o: { present: boolean; upToDate: boolean }) => o.present && o.upToDate)).toBe(true)
    expect((await runCli(['check', '--family', '1', '--url', db.url])).code).toBe(0)
  })

  it('an unknown database with such a name is one line, exit 2', async () => {
    const result = await runCli(['check', '--url', `${serverUrl()}/${encodeURIComponent("no`such'db")}`])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/unknown database 'no`such'db'/)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
  })
})
