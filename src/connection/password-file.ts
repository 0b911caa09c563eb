import { readFileSync } from 'node:fs'
import { FamilySyncError } from '../errors.js'
import type { ConnectionTarget } from './url.js'

/**
 * The password from a file rather than the URL, as Kubernetes mounts secrets:
 * DATABASE_PASSWORD_FILE or --password-file. One trailing newline is not part
 * of it. The URL must then hold no password of its own.
 */
export function withPasswordFile(target: ConnectionTarget, path: string | undefined): ConnectionTarget {
  if (path === undefined || path === '') return target
  if (target.password !== '') throw new FamilySyncError('the password is given twice, in the connection URL and in a password file: keep one')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new FamilySyncError(`cannot read the password file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; check --password-file or DATABASE_PASSWORD_FILE`)
  }
  return { ...target, password: text.replace(/\r?\n$/, '') }
}
