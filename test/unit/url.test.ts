import { describe, expect, it } from 'vitest'
import { parseDatabaseUrl, redactUrl, secretsOf } from '../../src/connection/url.js'
import { FamilySyncError } from '../../src/errors.js'

const SECRET = 'Secret-9'

describe('redactUrl and secretsOf: the password of any connection-string shape', () => {
  const shapes: Array<[string, string, string]> = [
    ['mysql://app:Secret-9@db:3306/chores', 'mysql://app:***@db:3306/chores', SECRET],
    ['mariadb://app:Secret-9@db/chores', 'mariadb://app:***@db/chores', SECRET],
    ['jdbc:mysql://app:Secret-9@db:3306/chores', 'jdbc:mysql://app:***@db:3306/chores', SECRET],
    ['app:Secret-9@db/chores', 'app:***@db/chores', SECRET],
    ['mysql:app:Secret-9@db/chores', 'mysql:***@db/chores', 'app:Secret-9'],
    ['mysql://app:Sec@ret@Tail99@db/chores', 'mysql://app:***@db/chores', 'Sec@ret@Tail99'],
    ['mysql://app:p%40ss%2Fword@db/chores', 'mysql://app:***@db/chores', 'p%40ss%2Fword'],
    ['mysql://app:Secret-9@[::1]:3306/chores?ssl-mode=REQUIRED', 'mysql://app:***@[::1]:3306/chores?ssl-mode=REQUIRED', SECRET],
  ]
  it.each(shapes)('%s', (url, redacted, secret) => {
    expect(redactUrl(url)).toBe(redacted)
    expect(secretsOf(url)).toContain(secret)
    expect(redactUrl(url)).not.toContain('Secret-9')
  })

  it('an encoded password is scrubbed in its decoded form too', () => {
    expect(secretsOf('mysql://app:p%40ss%2Fword@db/chores')).toEqual(['p%40ss%2Fword', 'p@ss/word'])
  })

  it('leaves URLs without a password alone', () => {
    for (const url of ['mysql://app@db/chores', 'mysql://db:3306/chores', 'mysql://root@127.0.0.1:3306']) {
      expect(redactUrl(url)).toBe(url)
      expect(secretsOf(url)).toEqual([])
    }
  })
})

describe('parseDatabaseUrl', () => {
  it('reads user, password, host, port and database, decoding each', () => {
    expect(parseDatabaseUrl('mysql://app:p%40ss@db.internal:3307/chores%20db')).toMatchObject({
      host: 'db.internal',
      port: 3307,
      user: 'app',
      password: 'p@ss',
      database: 'chores db',
      tls: { mode: 'PREFERRED' },
    })
  })

  it('takes an unencoded @ in the password: the host follows the last one', () => {
    expect(parseDatabaseUrl('mysql://app:Sec@ret@db/chores')).toMatchObject({ user: 'app', password: 'Sec@ret', host: 'db' })
  })

  it('reads the mysql client’s TLS parameters; a CA alone means VERIFY_CA', () => {
    expect(parseDatabaseUrl('mysql://a@h/d?ssl-mode=required').tls).toEqual({ mode: 'REQUIRED', ca: undefined, cert: undefined, key: undefined })
    expect(parseDatabaseUrl('mysql://a@h/d?ssl-ca=/ca.pem').tls).toMatchObject({ mode: 'VERIFY_CA', ca: '/ca.pem' })
    expect(parseDatabaseUrl('mysql://a@h/d?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem&ssl-cert=/c.pem&ssl-key=/k.pem').tls).toEqual({ mode: 'VERIFY_IDENTITY', ca: '/ca.pem', cert: '/c.pem', key: '/k.pem' })
  })

  it.each([
    ['mysql://a:Secret-9@h/d?ssl=true', /parameter 'ssl' in the connection URL is not one family-sync takes: use ssl-mode=REQUIRED to encrypt/],
    ['mysql://a:Secret-9@h/d?sslmode=REQUIRED', /parameter 'sslmode' .*: use ssl-mode \(DISABLED/],
    ['mysql://a:Secret-9@h/d?charset=utf8mb4', /parameter 'charset' .*: family-sync always talks utf8mb4; remove it/],
    ['mysql://a:Secret-9@h/d?connection_limit=5', /parameter 'connection_limit' .*: family-sync uses one connection per command; remove it/],
    ['mysql://a:Secret-9@h/d?frobnicate=1', /parameter 'frobnicate' .*: remove it \(family-sync knows ssl-mode, ssl-ca, ssl-cert, ssl-key, socket\)/],
    ['mysql://a:Secret-9@h/d?ssl-mode=SOMETIMES', /ssl-mode=SOMETIMES is not a mode/],
    ['mysql://a:Secret-9@h/d?ssl-mode=VERIFY_CA', /needs the CA certificate/],
    ['mysql://a:Secret-9@h/d?ssl-cert=/c.pem', /ssl-cert and ssl-key go together/],
    ['mysql://a:Secret-9@h/d?ssl-mode=DISABLED&ssl-ca=/ca.pem', /cannot be combined/],
    ['jdbc:mysql://a:Secret-9@h/d', /unsupported URL scheme 'jdbc:mysql:' in 'jdbc:mysql:\/\/a:\*\*\*@h\/d'/],
    ['postgres://a:Secret-9@h/d', /unsupported URL scheme 'postgres:'/],
    ['a:Secret-9@h/d', /malformed connection URL 'a:\*\*\*@h\/d'/],
    ['mysql://a:Secret-9@h/d/e', /the path must be a single database name/],
  ])('refuses %s, naming it without its password', (url, message) => {
    let error: unknown
    try {
      parseDatabaseUrl(url)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(FamilySyncError)
    expect((error as Error).message).toMatch(message)
    expect((error as Error).message).not.toContain('Secret-9')
  })
})
