import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { quoteIdentifier } from '../src/sql/identifiers.js'
import { packageRoot } from '../src/paths.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { createTestDatabase, familyOf, serverKnex, serverUrl, type TestDatabase } from './helpers/database.js'
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

  it('help works as --help, help X and migrate help up; every command lists --url and --password-file; no usage line repeats itself', async () => {
    const commands = [['migrate'], ['migrate', 'up'], ['migrate', 'down'], ['migrate', 'status'], ['sql'], ['check'], ['verify'], ['repair'], ['drain'], ['prune'], ['serve']]
    for (const command of commands) {
      const viaFlag = await runCli([...command, '--help'])
      expect(viaFlag.code, command.join(' ')).toBe(0)
      expect(viaFlag.stdout, command.join(' ')).toMatch(/--url <url>/)
      expect(viaFlag.stdout, command.join(' ')).toMatch(/--password-file <path>/)
      const usage = viaFlag.stdout.split('\n')[0]
      expect(usage).toMatch(new RegExp(`^Usage: family-sync ${command.join(' ')} `))
      expect(usage, usage).not.toMatch(/(\[\w+\]) \1/)
      const viaCommand = await runCli(command.length === 1 ? ['help', ...command] : [command[0], 'help', ...command.slice(1)])
      expect(viaCommand.code, command.join(' ')).toBe(0)
      expect(viaCommand.stdout).toBe(viaFlag.stdout)
    }
  })

  it('--help, --version, -v and -V exit 0; each command’s help names every field of its JSON', async () => {
    expect((await runCli(['--help'])).code).toBe(0)
    const version = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version
    for (const flag of ['--version', '-v', '-V']) {
      const shown = await runCli([flag])
      expect(shown.code, flag).toBe(0)
      expect(shown.stdout.trim(), flag).toBe(version)
    }
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
      // migrate up's preflight names every missing column, in one problem rather than one each.
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.code).toBe(2)
      expect(up.stderr).toMatch(/preflight found 1 problem, nothing was changed: none of the application's columns family-sync works on \(users\.id, users\.username, users\.parent_id, users\.family_id, families\.id\) is in database 'fs_test_/)
      expect(up.stderr.match(/is the database in the URL/g)).toHaveLength(1)
    } finally {
      await db.drop()
    }
  })
})

describe('a users table without family_id', () => {
  it('migrate up names that column alone', async () => {
    const db = await createTestDatabase({
      schema: ['CREATE TABLE families (id INT PRIMARY KEY) ENGINE=InnoDB', 'CREATE TABLE users (id INT PRIMARY KEY, username VARCHAR(100) NOT NULL, parent_id INT NULL) ENGINE=InnoDB'],
    })
    try {
      const up = await runCli(['migrate', 'up', '--url', db.url])
      expect(up.code).toBe(2)
      expect(up.stderr).toMatch(/the application's users\.family_id is missing: family-sync works on users\.id, .* in database 'fs_test_/)
      expect(up.stderr).not.toMatch(/users\.parent_id is missing|users\.parent_id, users\.family_id are/)
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

describe('connection settings as deployments give them', () => {
  const password = 'Fi1e-secret-pw'
  const user = `fs_pwfile_${process.pid % 100000}`
  const admin = serverKnex()
  let db: TestDatabase
  let dir: string
  let file: string
  const url = (withPassword = false) => {
    const server = new URL(serverUrl())
    return `mysql://${user}${withPassword ? `:${password}` : ''}@${server.host}/${encodeURIComponent(db.name)}`
  }
  beforeAll(async () => {
    db = await createTestDatabase()
    await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one')")
    await install(db.knex)
    await admin.raw("DROP USER IF EXISTS ?@'%'", [user])
    await admin.raw(`CREATE USER ?@'%' IDENTIFIED BY '${password}'`, [user])
    await admin.raw(`GRANT SELECT, EXECUTE ON ${quoteIdentifier(db.name)}.* TO ?@'%'`, [user])
    dir = mkdtempSync(join(tmpdir(), 'family-sync-secret-'))
    // As Kubernetes mounts a secret: the value, often with a trailing newline.
    file = join(dir, 'password')
    writeFileSync(file, `${password}\n`)
  })
  afterAll(async () => {
    await admin.raw("DROP USER IF EXISTS ?@'%'", [user])
    await admin.destroy()
    rmSync(dir, { recursive: true, force: true })
    await db.drop()
  })

  it('takes the password from --password-file or DATABASE_PASSWORD_FILE, never prints it, and refuses it twice', async () => {
    const byFlag = await runCli(['check', '--password-file', file, '--url', url()])
    expect(byFlag.code, byFlag.stdout + byFlag.stderr).toBe(0)
    const byEnv = await runCli(['check', '--json', '--url', url()], { env: { DATABASE_PASSWORD_FILE: file } })
    expect(byEnv.code, byEnv.stderr).toBe(0)
    expect(JSON.parse(byEnv.stdout).ok).toBe(true)
    // A failure after the connection (no such family) prints no password either.
    const failing = await runCli(['check', '--family', '999999', '--url', url()], { env: { DATABASE_PASSWORD_FILE: file, DEBUG: 'family-sync' } })
    expect(failing.code).toBe(2)
    expect(failing.stdout + failing.stderr).not.toContain(password)
    const twice = await runCli(['check', '--password-file', file, '--url', url(true)])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toMatch(/^family-sync: the password is given twice, in the connection URL and in a password file: keep one\n$/)
    const missing = await runCli(['check', '--password-file', join(dir, 'nope'), '--url', url()])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/cannot read the password file .*nope: ENOENT/)
    const wrong = join(dir, 'wrong')
    writeFileSync(wrong, 'not-it')
    const denied = await runCli(['check', '--password-file', wrong, '--url', url()])
    expect(denied.code).toBe(2)
    expect(denied.stderr).toMatch(/access denied for user/)
    expect(denied.stderr).not.toContain('not-it')
  })

  it('check --family of a family that does not exist exits 2 saying so, in every output', async () => {
    for (const format of [[], ['--json'], ['--prometheus']]) {
      const result = await runCli(['check', '--family', '999999', ...format, '--url', db.url])
      expect(result.code, format.join(' ')).toBe(2)
      expect(result.stdout, format.join(' ')).toBe('')
      expect(result.stderr).toBe('family-sync: there is no family 999999 (no row with that id in families): check the id\n')
    }
  })

  it('a bad socket path and a parameter other tools use are one line each, saying what to do', async () => {
    const socket = await runCli(['check', '--url', 'mysql://root@localhost/x?socket=/nonexistent/mysqld.sock'])
    expect(socket.code).toBe(2)
    expect(socket.stderr).toBe("family-sync: cannot connect through the socket /nonexistent/mysqld.sock: no such file; check socket= in the connection URL (the server's own path is its @@socket)\n")
    const charset = await runCli(['check', '--url', `${db.url}?charset=utf8mb4`])
    expect(charset.code).toBe(2)
    expect(charset.stderr.trim().split('\n')).toHaveLength(1)
    expect(charset.stderr).toMatch(/parameter 'charset' .*: family-sync always talks utf8mb4; remove it/)
  })
})
