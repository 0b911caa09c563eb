import { checkServerIdentity, type TLSSocket } from 'node:tls'
import mysql from 'mysql2'
import { SQL_MODE } from '../defaults.js'
import { FamilySyncError } from '../errors.js'
import { driverOptions } from './options.js'
import { Session, type DriverConnection } from './session.js'
import type { ConnectionTarget } from './url.js'

export interface OpenSession {
  session: Session
  close(): Promise<void>
  /** Cuts the connection at once, a statement in progress included. */
  destroy?(): void
}

function open(options: ReturnType<typeof driverOptions>): Promise<mysql.Connection> {
  return new Promise((resolve, reject) => {
    const connection = mysql.createConnection(options)
    // A connection lost later is reported by the next statement; without a
    // listener the driver's 'error' event would end the process instead.
    connection.on('error', () => {})
    connection.connect((error) => (error ? reject(error) : resolve(connection)))
  })
}

/**
 * VERIFY_IDENTITY: the certificate must name the host in the URL, a DNS name
 * or an IP address alike. mysql2's own check compares an IP host with
 * "localhost", so it is done here, on the negotiated socket.
 */
function verifyIdentity(connection: mysql.Connection, target: ConnectionTarget): void {
  const socket = (connection as unknown as { stream?: TLSSocket }).stream
  const certificate = typeof socket?.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined
  const mismatch = certificate ? checkServerIdentity(target.host, certificate) : Object.assign(new Error('no TLS certificate'), { code: 'HANDSHAKE_SSL_ERROR' })
  if (!mismatch) return
  connection.destroy()
  if (!certificate) throw mismatch
  const names = certificateNames(certificate)
  throw new FamilySyncError(
    `TLS to ${target.host}:${target.port} failed: the server's certificate is for ${names.length ? names.join(', ') : 'no host name'}, not ${target.host}; ` +
      'connect by a name the certificate holds, or use ssl-mode=VERIFY_CA to check the CA only',
    { cause: mismatch },
  )
}

/** The names a certificate is valid for: its subjectAltName entries, else its common name. */
function certificateNames(certificate: ReturnType<TLSSocket['getPeerCertificate']>): string[] {
  const alt = (certificate.subjectaltname ?? '')
    .split(',')
    .map((entry) => entry.trim().replace(/^(DNS|IP Address):/, ''))
    .filter((entry) => entry !== '')
  if (alt.length > 0) return alt
  const cn = certificate.subject?.CN
  return cn ? [String(cn)] : []
}

/**
 * Access denied over plaintext can be the account's REQUIRE SSL or the
 * server's require_secure_transport rather than the password (MariaDB says
 * only "access denied"): the error carries how it was tried.
 */
function withTransport(error: unknown, transport: 'plaintext' | 'tls'): unknown {
  if ((error as { code?: string })?.code === 'ER_ACCESS_DENIED_ERROR') Object.assign(error as object, { transport })
  return error
}

/**
 * One connection of the CLI's own, with family-sync's sql_mode. With
 * ssl-mode=PREFERRED (the default, as in the mysql client) TLS is used when
 * the server offers it; REQUIRED and the VERIFY modes never fall back.
 */
export async function connect(target: ConnectionTarget): Promise<OpenSession> {
  let connection: mysql.Connection
  try {
    connection = await open(driverOptions(target, { tlsForPreferred: true }))
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'HANDSHAKE_NO_SSL_SUPPORT' && target.tls.mode === 'PREFERRED') {
      connection = await open(driverOptions(target, { tlsForPreferred: false })).catch((plain) => Promise.reject(withTransport(plain, 'plaintext')))
    } else if (code === 'ER_ACCESS_DENIED_ERROR') {
      throw withTransport(error, target.tls.mode === 'DISABLED' ? 'plaintext' : 'tls')
    } else if (code === 'HANDSHAKE_NO_SSL_SUPPORT') {
      throw new FamilySyncError(`${target.host}:${target.port} does not offer TLS, and ssl-mode=${target.tls.mode} requires it: enable TLS on the server or change ssl-mode`, { cause: error })
    } else {
      throw error
    }
  }
  const session = new Session(connection as unknown as DriverConnection)
  try {
    if (target.tls.mode === 'VERIFY_IDENTITY') verifyIdentity(connection, target)
    await session.run(`SET SESSION sql_mode = '${SQL_MODE}'`)
  } catch (error) {
    connection.destroy()
    throw error
  }
  return {
    session,
    destroy: () => connection.destroy(),
    // A connection the server already dropped may never answer QUIT: give it a second, then cut it.
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          connection.destroy()
          resolve()
        }, 1000)
        try {
          connection.end(() => {
            clearTimeout(timer)
            resolve()
          })
        } catch {
          clearTimeout(timer)
          connection.destroy()
          resolve()
        }
      }),
  }
}
