import { describe, expect, it, vi } from 'vitest'
import { createProgress, formatSeconds } from '../../src/progress.js'
import { privilegesFromGrants } from '../../src/db/role-grants.js'
import { isRetryableWriteError } from '../../src/library.js'
import { escapeControl } from '../../src/cli/output.js'
import { idNumber, integerRange, wholeNumber } from '../../src/cli/options.js'
import { describeError, FamilySyncError } from '../../src/errors.js'
import { nextBatchSize } from '../../src/batch-size.js'
import { lockNameFor } from '../../src/migrator/lock.js'
import { definerClause } from '../../src/migrator/replace.js'
import { render, note } from '../../src/migrator/script.js'

describe('escapeControl', () => {
  it('spells out what would move the cursor, forge a line or reorder text', () => {
    expect(escapeControl('Eli\nok: 0 mismatched')).toBe('Eli\\x0aok: 0 mismatched')
    expect(escapeControl('\u001b[2J\u001b[Hclean')).toBe('\\x1b[2J\\x1b[Hclean')
    expect(escapeControl('a\u202eevil')).toBe('a\\u202eevil')
    expect(escapeControl('Zoë 👪 Ünïcode')).toBe('Zoë 👪 Ünïcode')
  })
})

describe('numeric options', () => {
  it('whole numbers within their range only', () => {
    const limit = wholeNumber('--limit', 0, 1000)
    expect(limit('0')).toBe(0)
    expect(limit('1000')).toBe(1000)
    for (const bad of ['-1', '1e3', '1001', '1.5', '', ' 7', '0x10', '99999999999999999999']) expect(() => limit(bad), bad).toThrow(/--limit takes a whole number from 0 to 1000/)
  })

  it('ids stay exact beyond 2^53 and stop at BIGINT', () => {
    const family = idNumber('--family')
    expect(family('42')).toBe(42)
    expect(family('9007199254740993')).toBe(9007199254740993n)
    expect(family('-9223372036854775808')).toBe(-(2n ** 63n))
    expect(() => family('9223372036854775808')).toThrow(/out of range for an id column/)
    expect(() => family('seven')).toThrow(/takes a whole number/)
  })

  it('knows the range of each integer column type', () => {
    expect(integerRange('int(11)')).toEqual([-(2n ** 31n), 2n ** 31n - 1n])
    expect(integerRange('int(10) unsigned')).toEqual([0n, 2n ** 32n - 1n])
    expect(integerRange('bigint(20) unsigned')).toEqual([0n, 2n ** 64n - 1n])
    expect(integerRange('varchar(10)')).toBeNull()
  })
})

describe('describeError', () => {
  const scene = { host: 'db', port: 3306, user: 'app', database: 'chores' }
  it.each([
    [{ code: 'ECONNREFUSED' }, /cannot connect to db:3306: connection refused/],
    [{ code: 'ENOTFOUND' }, /unknown host/],
    [{ code: 'ETIMEDOUT' }, /no answer in time/],
    [{ code: 'ER_ACCESS_DENIED_ERROR', sqlMessage: 'Access denied' }, /access denied for user 'app' at db:3306: check the user name and password in --url$/],
    [{ code: 'ER_ACCESS_DENIED_ERROR', transport: 'plaintext' }, /the connection was not encrypted: .*use ssl-mode=REQUIRED \(with ssl-cert and ssl-key for REQUIRE X509\)$/],
    [{ code: 'ER_ACCESS_DENIED_ERROR', transport: 'tls' }, /if the account requires a client certificate \(REQUIRE X509, SUBJECT or ISSUER\), add ssl-cert=/],
    [{ code: 'ER_SECURE_TRANSPORT_REQUIRED', errno: 3159 }, /db:3306 accepts only encrypted connections \(require_secure_transport=ON\): use ssl-mode=REQUIRED/],
    [{ code: 'ER_BAD_DB_ERROR' }, /unknown database 'chores'/],
    [{ code: 'ER_NO_SUCH_TABLE', sqlMessage: "Table 'chores.users' doesn't exist" }, /works on the application's users and families tables/],
    [{ code: 'ER_NO_SUCH_TABLE', sqlMessage: "Table 'chores.family_sync_queue' doesn't exist" }, /family-sync is not installed in this database/],
    [{ code: 'PROTOCOL_CONNECTION_LOST' }, /connection to db:3306 was lost.*run the command again/],
    [{ code: 'HANDSHAKE_SSL_ERROR', message: 'self-signed certificate' }, /TLS to db:3306 failed/],
    [{ code: 'ER_LOCK_DEADLOCK', sqlMessage: 'Deadlock found' }, /after retries/],
    [{ sqlMessage: 'Something\nodd' }, /the server refused a statement: Something odd/],
  ])('%o', (error, message) => {
    const described = describeError(error, scene)
    expect(described).toBeInstanceOf(FamilySyncError)
    expect(described.message).toMatch(message)
    expect(described.message).not.toContain('\n')
    expect(described.exitCode).toBe(2)
  })

  it('says which socket path failed and why, in one line', () => {
    const socket = { ...scene, socketPath: '/run/nope.sock' }
    expect(describeError({ code: 'ENOENT', message: 'connect ENOENT /run/nope.sock' }, socket).message).toBe(
      "cannot connect through the socket /run/nope.sock: no such file; check socket= in the connection URL (the server's own path is its @@socket)",
    )
    expect(describeError({ code: 'ECONNREFUSED' }, socket).message).toMatch(/socket \/run\/nope\.sock: no server is listening on it/)
    expect(describeError({ code: 'EACCES' }, socket).message).toMatch(/permission denied/)
  })

  it('passes a FamilySyncError through with its own exit status', () => {
    const own = new FamilySyncError('stop', { exitCode: 1 })
    expect(describeError(own)).toBe(own)
  })
})

describe('batch sizing', () => {
  it('aims at half the target: grows by a quarter at most, shrinks in proportion to an overshoot, within bounds', () => {
    expect(nextBatchSize(1000, 10, 100)).toBe(1250)
    expect(nextBatchSize(1000, 50, 100)).toBe(1000)
    expect(nextBatchSize(1000, 100, 100)).toBe(500)
    expect(nextBatchSize(1000, 250, 100)).toBe(200)
    expect(nextBatchSize(1000, 5000, 100)).toBe(100)
    expect(nextBatchSize(1, 1000, 100)).toBe(1)
    expect(nextBatchSize(190_000, 1, 100)).toBe(200_000)
  })
})

describe('lock names', () => {
  it('one per database, within GET_LOCK’s 64 characters', () => {
    expect(lockNameFor('a')).toBe('family_sync_migrate:a')
    expect(lockNameFor('a')).not.toBe(lockNameFor('b'))
    const long = 'x'.repeat(64)
    expect(lockNameFor(long).length).toBeLessThanOrEqual(64)
    expect(lockNameFor(long)).not.toBe(lockNameFor('y'.repeat(64)))
  })
})

describe('script rendering', () => {
  it('puts compound statements between DELIMITER lines and keeps notes as comments', () => {
    expect(render('SELECT 1')).toBe('SELECT 1;')
    expect(render('BEGIN SELECT 1; END')).toBe('DELIMITER $$\nBEGIN SELECT 1; END$$\nDELIMITER ;')
    expect(note('two\nlines')).toBe('-- two\n-- lines')
  })

  it('quotes a definer as identifiers', () => {
    expect(definerClause("o'brien@10.0.%")).toBe("DEFINER = `o'brien`@`10.0.%`")
    expect(definerClause('we`ird@localhost')).toBe('DEFINER = `we``ird`@`localhost`')
  })
})

describe('progress lines', () => {
  it('say the rate and what is left, every two seconds, without a terminal', () => {
    vi.useFakeTimers()
    try {
      const written: string[] = []
      const stream = { isTTY: false, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream
      const progress = createProgress(stream)
      progress.start(1000, 'repair')
      vi.advanceTimersByTime(1000)
      progress.update(100)
      vi.advanceTimersByTime(1500)
      progress.update(500, '3 batches')
      progress.stop('500 fixed')
      expect(written).toEqual(['repair: started, 1000 rows to visit\n', 'repair: 50% (500/1000 rows, 200 rows/s, about 3 s left), 3 batches\n', 'repair: done, 500 fixed\n'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('formats what is left for a human', () => {
    expect(formatSeconds(42.4)).toBe('42 s')
    expect(formatSeconds(125)).toBe('2 min 5 s')
    expect(formatSeconds(7300)).toBe('2 h 1 min')
  })
})

describe('privileges from SHOW GRANTS (roles on MySQL)', () => {
  it('takes global, matching schema and users-table grants; ignores others, column lists and role grants', () => {
    const lines = [
      'GRANT USAGE ON *.* TO `deployer`@`%`',
      'GRANT RELOAD ON *.* TO `deployer`@`%`',
      'GRANT SELECT, INSERT, CREATE ROUTINE ON `chores`.* TO `deployer`@`%`',
      'GRANT TRIGGER ON `chores`.`users` TO `deployer`@`%`',
      'GRANT DELETE ON `chores`.`families` TO `deployer`@`%`',
      'GRANT EVENT ON `other`.* TO `deployer`@`%`',
      'GRANT UPDATE (family_id), REFERENCES (id) ON `chores`.`users` TO `deployer`@`%`',
      'GRANT `family_sync_role`@`%` TO `deployer`@`%`',
    ]
    expect([...privilegesFromGrants(lines, 'chores')].sort()).toEqual(['CREATE ROUTINE', 'INSERT', 'RELOAD', 'SELECT', 'TRIGGER', 'USAGE'])
  })

  it('matches schema wildcards as the server does, and expands ALL PRIVILEGES', () => {
    expect(privilegesFromGrants(['GRANT ALL PRIVILEGES ON `chores\\_%`.* TO `a`@`%`'], 'chores_eu').has('EVENT')).toBe(true)
    expect(privilegesFromGrants(['GRANT ALL PRIVILEGES ON `chores\\_%`.* TO `a`@`%`'], 'choresXeu').size).toBe(0)
    expect(privilegesFromGrants(['GRANT EXECUTE ON `ch_res`.* TO `a`@`%`'], 'chores').has('EXECUTE')).toBe(true)
  })
})

describe('which write errors are retryable', () => {
  it('the interruptions and conflicts a rerun cures, and nothing else', () => {
    const retryable = [
      { code: 'ER_LOCK_DEADLOCK', errno: 1213 },
      { code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 },
      { errno: 3101 },
      { errno: 1064, message: "Trigger 'sync_children_family_id' has an error in its body: near 'x'" },
      { errno: 1467, message: 'Failed to read auto-increment value from storage engine' },
      { errno: 1146, message: "INSERT INTO users (username, parent_id) VALUES ('during', 157) - Table 'chores.c' doesn't exist" },
    ]
    const final = [
      { code: 'ER_DUP_ENTRY', errno: 1062, message: "Duplicate entry '1-Sam'" },
      { code: 'ER_NO_REFERENCED_ROW_2', errno: 1452 },
      { code: 'ER_NO_SUCH_TABLE', errno: 1146, message: "Table 'chores.family_sync_queue' doesn't exist" },
      { code: 'ER_NO_SUCH_TABLE', errno: 1146, message: "Table 'chores.cats' doesn't exist" },
      { errno: 1064, message: "You have an error in your SQL syntax near 'SELEC'" },
      { code: 'ER_QUERY_INTERRUPTED', errno: 1317 },
      { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 },
      new Error('socket hang up'),
      {},
    ]
    for (const error of retryable) expect(isRetryableWriteError(error), JSON.stringify(error)).toBe(true)
    for (const error of final) expect(isRetryableWriteError(error), JSON.stringify(error)).toBe(false)
  })
})
