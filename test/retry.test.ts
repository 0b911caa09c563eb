import { describe, expect, it } from 'vitest'
import { withRetry } from '../src/db/retry.js'
import { createTestDatabase, serverKnex } from './helpers/database.js'

// withRetry's loop, on real errors from the server: a lock wait timeout
// (1205) that another transaction causes and then ends, a timeout that never
// ends, and an error no retry can cure.
describe('withRetry on a real server', () => {
  it('runs the work again after a lock wait timeout, gives up after its attempts, and never retries an error that running again cannot cure', async () => {
    const db = await createTestDatabase()
    const holder = serverKnex(db.name, { min: 0, max: 1 })
    const writer = serverKnex(db.name, { min: 0, max: 1 })
    try {
      await db.knex.raw("INSERT INTO users (id, username) VALUES (1, 'someone')")
      await writer.raw('SET SESSION innodb_lock_wait_timeout = 1')
      const holdRow = async () => {
        const trx = await holder.transaction()
        await trx.raw('SELECT id FROM users WHERE id = 1 FOR UPDATE')
        return trx
      }

      // The row is held until the first attempt times out; the second attempt gets it.
      let held = await holdRow()
      const codes: string[] = []
      const cured = await withRetry(async () => {
        try {
          await writer.raw("UPDATE users SET username = 'renamed' WHERE id = 1")
          return 'written'
        } catch (error) {
          codes.push((error as { code: string }).code)
          await held.commit()
          throw error
        }
      })
      expect(codes).toEqual(['ER_LOCK_WAIT_TIMEOUT'])
      expect(cured).toEqual({ value: 'written', retries: 1 })

      // Held for good: three attempts, then the server's own error.
      held = await holdRow()
      let calls = 0
      const failure = await withRetry(async () => {
        calls++
        await writer.raw("UPDATE users SET username = 'again' WHERE id = 1")
      }, 3).catch((error: unknown) => error)
      await held.commit()
      expect(calls).toBe(3)
      expect(failure).toMatchObject({ errno: 1205 })

      // An error that running again cannot cure is thrown at once.
      calls = 0
      const missing = await withRetry(async () => {
        calls++
        await writer.raw('SELECT * FROM no_such_table')
      }).catch((error: unknown) => error)
      expect(calls).toBe(1)
      expect(missing).toMatchObject({ errno: 1146 })
    } finally {
      await holder.destroy()
      await writer.destroy()
      await db.drop()
    }
  })
})
