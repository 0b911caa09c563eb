import { spawn } from 'node:child_process'
import knexFactory, { type Knex } from 'knex'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { until } from './helpers/wait.js'
import { CLI, runCli, startCli } from './helpers/cli.js'
import { APP_SCHEMA, createTestDatabase } from './helpers/database.js'
import { install } from './helpers/install.js'
import { populate } from './helpers/populate.js'
import type { ExtraServer } from './helpers/servers.js'
import { startSuiteServer } from './helpers/suite-build.js'
import { describeWithOwnServers } from './helpers/requires.js'

describeWithOwnServers()('drain --watch as a sidecar', () => {
  let server: ExtraServer
  beforeAll(async () => {
    server = await startSuiteServer()
  }, 120_000)
  afterAll(() => server?.remove())

  it('survives a server restart: one line per outage, reconnects with backoff, keeps draining, exits 0 on SIGTERM', async () => {
    const admin = knexFactory({ client: 'mysql2', connection: server.url, pool: { min: 0, max: 1 } })
    await admin.raw('CREATE DATABASE app')
    await admin.destroy()
    const url = `${server.url}/app`
    const open = (): Knex => knexFactory({ client: 'mysql2', connection: url, pool: { min: 0, max: 1 } })
    let app = open()
    for (const ddl of APP_SCHEMA) await app.raw(ddl)
    await app.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    await app.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
    await app.raw("INSERT INTO users (id, username, parent_id) VALUES (2, 'child', 1)")
    expect((await runCli(['migrate', 'up', '--url', url])).code).toBe(0)

    const watch = startCli(['drain', '--watch', '--allow-privileged-account', '--url', url])
    let output = ''
    let errors = ''
    watch.stdout.on('data', (chunk) => (output += chunk))
    watch.stderr.on('data', (chunk) => (errors += chunk))
    const exited = new Promise<number | null>((resolve) => watch.on('close', resolve))
    const familyOfChild = async () => {
      const [[row]] = (await app.raw('SELECT family_id FROM users WHERE id = 2')) as [[{ family_id: number }]]
      return row.family_id
    }
    try {
      // Connected before the server goes: where the event drains too (MySQL's scheduler is ON), the
      // change below may be applied before the watch has even started.
      expect(await until(async () => output.includes('draining'), 10_000)).toBe(true)
      await app.raw('UPDATE users SET family_id = 2 WHERE id = 1')
      expect(await until(async () => (await familyOfChild()) === 2, 10_000)).toBe(true)

      await app.destroy()
      await server.kill()
      await new Promise((resolve) => setTimeout(resolve, 3000))
      await server.start()
      app = open()
      await app.raw('UPDATE users SET family_id = 3 WHERE id = 1')
      expect(await until(async () => (await familyOfChild()) === 3, 30_000)).toBe(true)
    } finally {
      watch.kill('SIGTERM')
      await app.destroy()
    }
    expect(await exited, errors).toBe(0)
    const lines = output.trim().split('\n')
    expect(lines.filter((l) => l.startsWith('lost the connection'))).toHaveLength(1)
    expect(lines.filter((l) => /^reconnected to .* after \d+\.\d s; draining$/.test(l))).toHaveLength(1)
    // The call in hand when the server died had applied the first entry; its count went down with it.
    expect(lines.at(-1)).toMatch(/^stopped: drained [12] queued parents across 1 outages$/)
  }, 120_000)
})

describe('a closed stdout pipe', () => {
  it('ends a command quietly with its normal exit status', async () => {
    const db = await createTestDatabase()
    try {
      await populate(db.knex, 2000, 4)
      for (const args of [['check', '--limit', '4000'], ['check', '--json', '--limit', '4000'], ['sql']]) {
        const child = startCli([...args, '--url', db.url])
        let stderr = ''
        child.stderr.on('data', (chunk) => (stderr += chunk))
        // The reader takes one chunk and goes away, as `| head -1` does.
        child.stdout.once('data', () => child.stdout.destroy())
        const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
        expect(code, args.join(' ')).toBe(args[0] === 'sql' ? 0 : 1)
        expect(stderr, args.join(' ')).not.toMatch(/EPIPE|Error|\n\s+at /)
      }
    } finally {
      await db.drop()
    }
  })

  it('drain --watch | head -1 ends while idle, when there is nothing to write that would fail: exit 0 within seconds', async () => {
    const db = await createTestDatabase()
    try {
      await install(db.knex)
      // A shell pipe, as an operator types it (node's own child pipes are sockets, not pipes).
      const started = Date.now()
      const pipeline = spawn('bash', ['-c', 'set -o pipefail; "$0" "$1" drain --watch --allow-privileged-account --url "$2" | head -1', process.execPath, CLI, db.url])
      let stdout = ''
      let stderr = ''
      pipeline.stdout.on('data', (chunk) => (stdout += chunk))
      pipeline.stderr.on('data', (chunk) => (stderr += chunk))
      const closed = new Promise<number | null>((resolve) => pipeline.on('close', resolve))
      const code = await Promise.race([closed, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 15_000))])
      if (code === 'still running') pipeline.kill('SIGKILL')
      console.log(`drain --watch | head -1, idle: the pipeline ended after ${Date.now() - started} ms`)
      expect(stdout).toBe('draining; stop with SIGINT or SIGTERM\n')
      expect(code, stderr).toBe(0)
      expect(stderr).not.toMatch(/EPIPE|Error|\n\s+at /)
    } finally {
      await db.drop()
    }
  })

})
