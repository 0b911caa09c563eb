import { readFileSync } from 'node:fs'
import { FamilySyncError } from '../errors.js'
import type { TlsSettings } from './url.js'

export interface DriverTls {
  ca?: string
  cert?: string
  key?: string
  rejectUnauthorized: boolean
  /** Left to connect.ts: mysql2 checks an IP host against "localhost". */
  verifyIdentity: false
}

function readPem(option: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new FamilySyncError(`cannot read ${option}=${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; check the path in the connection URL`)
  }
}

/**
 * mysql2's `ssl` option for an ssl-mode, with the mysql client's meaning:
 * REQUIRED encrypts without checking who answers, VERIFY_CA checks the
 * certificate against the CA, VERIFY_IDENTITY also checks the host name.
 * PREFERRED is tried as REQUIRED first and falls back to plaintext only when
 * the server offers no TLS at all (see connect.ts).
 */
export function driverTls(tls: TlsSettings): DriverTls | undefined {
  if (tls.mode === 'DISABLED') return undefined
  const files = { ca: readPem('ssl-ca', tls.ca), cert: readPem('ssl-cert', tls.cert), key: readPem('ssl-key', tls.key) }
  const verify = tls.mode === 'VERIFY_CA' || tls.mode === 'VERIFY_IDENTITY'
  return {
    ...Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)),
    rejectUnauthorized: verify,
    verifyIdentity: false,
  }
}

/**
 * As the mysql client warns: a CA file with ssl-mode REQUIRED or PREFERRED is
 * not used to verify anything, which is rarely what its author meant.
 */
export function tlsWarning(tls: TlsSettings): string | undefined {
  if ((tls.mode === 'REQUIRED' || tls.mode === 'PREFERRED') && tls.ca) {
    return `ssl-mode=${tls.mode} does not verify the server's certificate, so ssl-ca is not used: use ssl-mode=VERIFY_CA (or VERIFY_IDENTITY) to verify against it`
  }
  return undefined
}
