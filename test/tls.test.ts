import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from '../src/connection/connect.js'
import { parseDatabaseUrl } from '../src/connection/url.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA, serverUrl } from './helpers/database.js'
import { MARIADBD, startServer, type ExtraServer } from './helpers/servers.js'
import { admin, exec } from './helpers/topology.js'

function openssl(dir: string, ...args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${run.stderr}`)
}

/** A CA and a server certificate it signed for 127.0.0.1, and a second CA that signed nothing here. */
function certificates(dir: string): void {
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=family-sync test ${ca}`, '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`)
  }
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName = IP:127.0.0.1\n')
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server-key.pem', '-out', 'server.csr')
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'san.cnf', '-out', 'server-cert.pem')
}

async function encrypted(url: string): Promise<string> {
  const open = await connect(parseDatabaseUrl(url))
  try {
    const [row] = await open.session.query<{ Value: string }>("SHOW SESSION STATUS LIKE 'Ssl_version'")
    return row?.Value ?? ''
  } finally {
    await open.close()
  }
}

describe.skipIf(!MARIADBD)('TLS through the mysql client’s URL parameters', () => {
  let dir: string
  let server: ExtraServer
  let app: string
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'family-sync-tls-'))
    certificates(dir)
    server = await startServer({ args: [`--ssl-ca=${join(dir, 'ca.pem')}`, `--ssl-cert=${join(dir, 'server-cert.pem')}`, `--ssl-key=${join(dir, 'server-key.pem')}`] })
    await exec(server.url, 'CREATE DATABASE app')
    const knex = admin(server.url, 'app')
    for (const ddl of APP_SCHEMA) await knex.raw(ddl)
    await knex.destroy()
    app = `${server.url}/app`
  }, 120_000)
  afterAll(async () => {
    await server?.remove()
    rmSync(dir, { recursive: true, force: true })
  })

  it('VERIFY_CA with the right CA connects, encrypted', async () => {
    const url = `${app}?ssl-mode=VERIFY_CA&ssl-ca=${join(dir, 'ca.pem')}`
    const check = await runCli(['check', '--url', url])
    expect(check.code, check.stderr).toBe(0)
    expect(await encrypted(url)).toMatch(/^TLS/)
  })

  it('VERIFY_IDENTITY checks the host name as well: 127.0.0.1 is in the certificate, localhost is not', async () => {
    const ca = join(dir, 'ca.pem')
    expect((await runCli(['check', '--url', `${app}?ssl-mode=VERIFY_IDENTITY&ssl-ca=${ca}`])).code).toBe(0)
    const wrongName = await runCli(['check', '--url', `${app.replace('127.0.0.1', 'localhost')}?ssl-mode=VERIFY_IDENTITY&ssl-ca=${ca}`])
    expect(wrongName.code).toBe(2)
    expect(wrongName.stderr).toMatch(/TLS to localhost:\d+ failed: the server's certificate could not be verified/)
  })

  it('VERIFY_CA with another CA is exit 2, one line', async () => {
    const check = await runCli(['check', '--url', `${app}?ssl-mode=VERIFY_CA&ssl-ca=${join(dir, 'other-ca.pem')}`])
    expect(check.code).toBe(2)
    expect(check.stdout).toBe('')
    expect(check.stderr.trim().split('\n')).toHaveLength(1)
    expect(check.stderr).toMatch(/TLS to 127\.0\.0\.1:\d+ failed: the server's certificate could not be verified .*check ssl-ca/)
  })

  it('REQUIRED encrypts without verifying; PREFERRED (the default) uses TLS when offered', async () => {
    expect(await encrypted(`${app}?ssl-mode=REQUIRED`)).toMatch(/^TLS/)
    expect(await encrypted(app)).toMatch(/^TLS/)
    expect(await encrypted(`${app}?ssl-mode=DISABLED`)).toBe('')
  })

  it('a CA file that cannot be read is exit 2 naming it', async () => {
    const check = await runCli(['check', '--url', `${app}?ssl-ca=/nonexistent/ca.pem`])
    expect(check.code).toBe(2)
    expect(check.stderr).toMatch(/cannot read ssl-ca=\/nonexistent\/ca\.pem: ENOENT/)
  })
})

describe('TLS against a server that offers none', () => {
  it('ssl-mode=REQUIRED is exit 2; PREFERRED falls back to plaintext', async () => {
    const url = `${serverUrl()}/mysql`
    const have = await admin(serverUrl()).raw("SHOW VARIABLES LIKE 'have_ssl'").then(async ([rows]: [Array<{ Value: string }>]) => rows[0]?.Value)
    if (have === 'YES') return expect(have).toBe('YES')
    const required = await runCli(['check', '--url', `${url}?ssl-mode=REQUIRED`])
    expect(required.code).toBe(2)
    expect(required.stderr).toMatch(/does not offer TLS, and ssl-mode=REQUIRED requires it/)
    expect(await encrypted(url)).toBe('')
  })
})
