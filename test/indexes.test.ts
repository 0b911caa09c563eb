import { describe, expect, it } from 'vitest'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA, createTestDatabase } from './helpers/database.js'
import { ourObjects } from './helpers/install.js'

// users without an index on parent_id: no foreign key there (a foreign key
// gives InnoDB one), as in schemas that keep the relation in the application.
const WITHOUT_PARENT_INDEX = [APP_SCHEMA[0], APP_SCHEMA[1].replace(/,\s*CONSTRAINT users_parent_fk FOREIGN KEY \(parent_id\) REFERENCES users \(id\)/, '')]

describe('a users table without an index on parent_id', () => {
  it('migrate up refuses naming the CREATE INDEX, installs with --allow-missing-index, and verify and check report it until the index exists', async () => {
    expect(WITHOUT_PARENT_INDEX[1]).not.toContain('users_parent_fk')
    const db = await createTestDatabase({ schema: WITHOUT_PARENT_INDEX })
    try {
      await db.knex.raw("INSERT INTO families (id, name) VALUES (1, 'one')")
      await db.knex.raw("INSERT INTO users (id, username, family_id) VALUES (1, 'parent', 1)")
      const refused = await runCli(['migrate', 'up', '--url', db.url])
      expect(refused.code).toBe(2)
      expect(refused.stderr).toMatch(/users\.parent_id has no index.*CREATE INDEX users_parent_id ON users \(parent_id\), or pass --allow-missing-index/)
      expect(refused.stderr.trim().split('\n')).toHaveLength(1)
      expect(await ourObjects(db.knex)).toEqual([])

      const allowed = await runCli(['migrate', 'up', '--allow-missing-index', '--url', db.url])
      expect(allowed.code, allowed.stderr).toBe(0)
      expect(allowed.stderr).toMatch(/warning: users\.parent_id has no index.*--allow-missing-index/)

      for (const command of [['verify'], ['check']]) {
        const result = await runCli([...command, '--url', db.url])
        expect(result.code, command[0]).toBe(1)
        expect(result.stdout).toMatch(/problem: users\.parent_id has no index: .*: CREATE INDEX users_parent_id ON users \(parent_id\)/)
      }
      // A family's answer depends on that family only.
      expect((await runCli(['check', '--family', '1', '--url', db.url])).code).toBe(0)
      const prometheus = await runCli(['check', '--prometheus', '--url', db.url])
      expect(prometheus.stdout).toMatch(/^family_sync_verify_problems 1$/m)

      await db.knex.raw('CREATE INDEX users_parent_id ON users (parent_id)')
      expect((await runCli(['verify', '--url', db.url])).code).toBe(0)
      expect((await runCli(['check', '--url', db.url])).code).toBe(0)
    } finally {
      await db.drop()
    }
  })
})
