import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, serverUrl, type TestDatabase } from './helpers/database.js'
import { install, queueLength } from './helpers/install.js'

const SECRET = 'Pa55-w0rd-x'

describe('what a pipe sees when a command fails', () => {
  const server = new URL(serverUrl())
  const user = decodeURIComponent(server.username) || 'root'
  const urls: Array<[string, string]> = [
    ['refused port', `mysql://root:${SECRET}@127.0.0.1:1/db`],
    ['wrong password', `mysql://${user}:${SECRET}@${server.host}/mysql`],
    ['unknown database', `mysql://${user}${server.password ? ':' + server.password : ''}@${server.host}/no_such_db_${process.pid}`],
  ]
  const documents = [['check', '--json'], ['check', '--prometheus'], ['verify', '--json'], ['migrate', 'status', '--json'], ['migrate', 'up', '--dry-run'], ['sql']]
  for (const [label, url] of urls) {
    it(`${label}: stdout of every document-printing command is empty; stderr is one line, no password`, async () => {
      for (const args of documents) {
        const result = await runCli([...args, '--url', url])
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2)
        expect(result.stdout, args.join(' ')).toBe('')
        expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
        expect(result.stderr).not.toContain(SECRET)
      }
    })
  }
})

describe('a password in any URL shape never reaches any output', () => {
  const shapes = [
    `jdbc:mysql://app:${SECRET}@127.0.0.1:1/db`,
    `app:${SECRET}@127.0.0.1:1/db`,
    `mysql:app:${SECRET}@127.0.0.1:1/db`,
    `mysql://app:${SECRET}@tail@127.0.0.1:1/db`,
    `mysql://app:${SECRET}@127.0.0.1:1/db?ssl=true`,
  ]
  for (const url of shapes) {
    it(url.replace(SECRET, '***'), async () => {
      for (const env of [{ DEBUG: undefined }, { DEBUG: 'family-sync' }]) {
        for (const how of [['--url', url], []]) {
          const result = await runCli(['check', ...how], { env: { ...env, DATABASE_URL: how.length ? undefined : url } })
          expect(result.code).toBe(2)
          expect(result.stdout + result.stderr).not.toContain(SECRET)
          expect(result.stdout + result.stderr).not.toContain('tail@127')
        }
      }
    })
  }
})

describe('usage', () => {
  it.each([[[]], [['migrate']], [['migrate', 'frob']], [['frobnicate']], [['check', '--frob']], [['check', '--limit', '1e23']], [['check', '--limit', '-1']], [['check', '--family', '1.5']], [['migrate', 'down', '--step', '0']], [['migrate', 'up', '--lock-wait', 'two']]])(
    '%j exits 2 with one line',
    async (args) => {
      const result = await runCli([...args, '--url', 'mysql://root@127.0.0.1:1/x'].slice(0, args.length ? undefined : 0))
      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr.trim().split('\n')).toHaveLength(1)
      expect(result.stderr).toMatch(/^family-sync: /)
    },
  )

  it('--help and --version exit 0; each command’s help names every field of its JSON', async () => {
    expect((await runCli(['--help'])).code).toBe(0)
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
    const db = await createTestDatabase()
    try {
      await install(db.knex)
      for (const [command, json] of [[['repair'], ['repair', '--json']], [['check'], ['check', '--json']], [['verify'], ['verify', '--json']]]) {
        const help = (await runCli([...command, '--help'])).stdout
        const doc = JSON.parse((await runCli([...json, '--url', db.url])).stdout)
        for (const key of Object.keys(doc)) expect(help, `${command} --help should name "${key}"`).toContain(`"${key}"`)
      }
    } finally {
      await db.drop()
    }
  })
})

describe('text from the database in human output', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one')")
    await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, ?, 1)", ['parent\u001b[2J\u001b[H'])
    await db.knex.raw('INSERT INTO users (id, username, parent_id) VALUES (2, ?, 1)', ['Eli\nok: 0 mismatched children in all families'])
  })
  afterAll(() => db.drop())

  it('cannot clear the screen or forge a line: control characters are spelled out', async () => {
    const check = await runCli(['check', '--url', db.url])
    expect(check.code).toBe(1)
    expect(check.stdout).not.toContain('\u001b')
    expect(check.stdout.split('\n').filter((line) => line.startsWith('ok:'))).toEqual([])
    expect(check.stdout).toContain('(Eli\\x0aok: 0 mismatched children in all families)')
    expect(check.stdout).toContain('(parent\\x1b[2J\\x1b[H)')
    // JSON carries the text as it is, escaped by JSON itself.
    expect(JSON.parse((await runCli(['check', '--json', '--url', db.url])).stdout).mismatches[0].childUsername).toBe('Eli\nok: 0 mismatched children in all families')
  })
})

describe("a database without the application's tables", () => {
  it('says the application’s tables are missing, not to run migrate up', async () => {
    const db = await createTestDatabase({ schema: [] })
    try {
      const check = await runCli(['check', '--url', db.url])
      expect(check.code).toBe(2)
      expect(check.stderr).toMatch(/works on the application's users and families tables; check that the database in --url is the application's/)
      expect(check.stderr).not.toMatch(/migrate up/)
    } finally {
      await db.drop()
    }
  })
})

describe("the repair's trigger bypass", () => {
  it('holds only for the connection whose id it carries: a stray value disables nothing', async () => {
    const db = await createTestDatabase()
    try {
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one'), (2, 'two')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'p1', 1), (2, 'p2', 2)")
      await db.knex.raw("INSERT INTO users (id, username, parent_id) VALUES (10, 'c', 1), (11, 'gc', 10)")
      await install(db.knex)
      const connection = await db.knex.client.acquireConnection()
      try {
        for (const stray of ['0', '1', "'yes'", 'CONNECTION_ID() + 1']) {
          await db.knex.raw(`SET @family_sync_repairing = ${stray}`).connection(connection)
          // Re-parented: takes the new parent's family at once.
          await db.knex.raw('UPDATE users SET parent_id = 2 WHERE id = 10').connection(connection)
          expect(await familyOf(db.knex, 10), stray).toBe(2)
          // A parent's change is queued for its children.
          const before = await queueLength(db.knex)
          await db.knex.raw('UPDATE users SET parent_id = 1 WHERE id = 10').connection(connection)
          expect(await queueLength(db.knex), stray).toBe(before + 1)
        }
        // Its own id disables the per-row work: what repair does inside its batch.
        await db.knex.raw('SET @family_sync_repairing = CONNECTION_ID()').connection(connection)
        await db.knex.raw('UPDATE users SET parent_id = 2 WHERE id = 10').connection(connection)
        expect(await familyOf(db.knex, 10)).toBe(1)
        await db.knex.raw('SET @family_sync_repairing = NULL').connection(connection)
      } finally {
        await db.knex.client.releaseConnection(connection)
      }
    } finally {
      await db.drop()
    }
  })
})
