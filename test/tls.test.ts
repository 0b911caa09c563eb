import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connect } from '../src/connection/connect.js'
import { parseDatabaseUrl } from '../src/connection/url.js'
import { runCli } from './helpers/cli.js'
import { APP_SCHEMA } from './helpers/database.js'
import { filesFor, withoutTls, type ExtraServer } from './helpers/servers.js'
import { startSuiteServer, suiteBuild } from './helpers/suite-build.js'
import { admin, exec } from './helpers/topology.js'
import { describeWithOwnServers } from './helpers/requires.js'

function openssl(dir: string, ...args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${run.stderr}`)
}

/** A CA, a server certificate it signed for 127.0.0.1, a client certificate it signed, and a second CA that signed nothing here. */
function certificates(dir: string): void {
  for (const ca of ['ca', 'other-ca']) {
    openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=family-sync test ${ca}`, '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`)
  }
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName = IP:127.0.0.1\n')
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server-key.pem', '-out', 'server.csr')
  openssl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'san.cnf', '-out', 'server-cert.pem')
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=family-sync client', '-keyout', 'client-key.pem', '-out', 'client.csr')
  openssl(dir, 'x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-out', 'client-cert.pem')
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

describeWithOwnServers()('TLS through the mysql client’s URL parameters', () => {
  let dir: string
  let files: ReturnType<typeof filesFor>
  let server: ExtraServer
  let app: string
  beforeAll(async () => {
    // Where the server can read them: inside its chroot, for a chroot build.
    files = filesFor(suiteBuild()!)
    dir = files.outside
    certificates(dir)
    server = await startSuiteServer({ args: [`--ssl-ca=${join(files.inside, 'ca.pem')}`, `--ssl-cert=${join(files.inside, 'server-cert.pem')}`, `--ssl-key=${join(files.inside, 'server-key.pem')}`] })
    await exec(server.url, 'CREATE DATABASE app')
    const knex = admin(server.url, 'app')
    for (const ddl of APP_SCHEMA) await knex.raw(ddl)
    await knex.destroy()
    app = `${server.url}/app`
  }, 120_000)
  afterAll(async () => {
    await server?.remove()
    files?.remove()
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
    expect(wrongName.stderr).toMatch(
      /^family-sync: TLS to localhost:\d+ failed: the server's certificate is for 127\.0\.0\.1, not localhost; connect by a name the certificate holds, or use ssl-mode=VERIFY_CA to check the CA only\n$/,
    )
  })

  it('REQUIRED with a CA file warns, as the mysql client does, that nothing is verified', async () => {
    const check = await runCli(['check', '--url', `${app}?ssl-mode=REQUIRED&ssl-ca=${join(dir, 'other-ca.pem')}`])
    expect(check.code, check.stderr).toBe(0)
    expect(check.stderr).toBe(
      "family-sync: warning: ssl-mode=REQUIRED does not verify the server's certificate, so ssl-ca is not used: use ssl-mode=VERIFY_CA (or VERIFY_IDENTITY) to verify against it\n",
    )
  })

  it('a refusal by require_secure_transport or an account that requires TLS says to use ssl-mode and a client certificate', async () => {
    const root = admin(server.url)
    try {
      await root.raw("CREATE USER 'x509'@'%' IDENTIFIED BY 'X509-pw-1' REQUIRE X509")
      await root.raw("GRANT SELECT, EXECUTE ON app.* TO 'x509'@'%'")
      const x509 = app.replace('mysql://root@', "mysql://x509:X509-pw-1@")
      const noCert = await runCli(['check', '--url', `${x509}?ssl-mode=REQUIRED`])
      expect(noCert.code).toBe(2)
      expect(noCert.stderr).toMatch(/access denied for user 'x509' .*if the account requires a client certificate \(REQUIRE X509, SUBJECT or ISSUER\), add ssl-cert=/)
      expect(noCert.stderr).not.toContain('X509-pw-1')
      const plain = await runCli(['check', '--url', `${x509}?ssl-mode=DISABLED`])
      expect(plain.code).toBe(2)
      expect(plain.stderr).toMatch(/the connection was not encrypted: if the account requires TLS \(REQUIRE SSL or X509\) .*use ssl-mode=REQUIRED \(with ssl-cert and ssl-key for REQUIRE X509\)/)
      const withCert = await runCli(['check', '--url', `${x509}?ssl-mode=VERIFY_CA&ssl-ca=${join(dir, 'ca.pem')}&ssl-cert=${join(dir, 'client-cert.pem')}&ssl-key=${join(dir, 'client-key.pem')}`])
      expect(withCert.code, withCert.stderr).toBe(0)

      await root.raw('SET GLOBAL require_secure_transport = ON')
      const refused = await runCli(['check', '--url', `${app}?ssl-mode=DISABLED`])
      expect(refused.code).toBe(2)
      expect(refused.stderr.trim().split('\n')).toHaveLength(1)
      // MariaDB 10.11 answers with "access denied"; MySQL and MariaDB 11.8 name require_secure_transport (error 3159).
      expect(refused.stderr).toMatch(
        /accepts only encrypted connections \(require_secure_transport=ON\): use ssl-mode=REQUIRED|access denied for user 'root' .*the connection was not encrypted: .*require_secure_transport=ON, use ssl-mode=REQUIRED/,
      )
      expect((await runCli(['check', '--url', `${app}?ssl-mode=REQUIRED`])).code).toBe(0)
    } finally {
      await root.raw('SET GLOBAL require_secure_transport = OFF')
      await root.raw("DROP USER IF EXISTS 'x509'@'%'")
      await root.destroy()
    }
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

describeWithOwnServers()('TLS against a server that offers none', () => {
  let server: ExtraServer
  beforeAll(async () => {
    server = await startSuiteServer({ args: withoutTls(suiteBuild()!) })
  }, 120_000)
  afterAll(async () => {
    await server?.remove()
  })

  it('ssl-mode=REQUIRED is exit 2; PREFERRED falls back to plaintext', async () => {
    const url = `${server.url}/mysql`
    const required = await runCli(['check', '--url', `${url}?ssl-mode=REQUIRED`])
    expect(required.code).toBe(2)
    expect(required.stderr).toMatch(/does not offer TLS, and ssl-mode=REQUIRED requires it/)
    expect(await encrypted(url)).toBe('')
  })
})
