import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { FamilySyncError } from '../errors.js'
import type { Reporter } from '../reporter.js'
import { watchPipeReaders } from './pipe-reader.js'

// Everything the CLI prints goes through here: passwords of the connection URL
// are replaced wherever they appear, text from the database cannot move the
// cursor or forge a line, and a closed stdout (`| head`) ends output quietly.

const secrets = new Set<string>()

/** Secrets shorter than this are not scrubbed from prose: "pw" would garble every other word. */
const MIN_SECRET = 3

export function addSecrets(list: readonly string[]): void {
  for (const secret of list) if (secret.length >= MIN_SECRET) secrets.add(secret)
}

export function scrub(text: string): string {
  let result = text
  for (const secret of secrets) result = result.split(secret).join('***')
  return result
}

// C0 and C1 controls, DEL, and the Unicode controls that reorder or break lines.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** A value from the database as it may be shown on a terminal: controls spelled out. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (ch) => {
    const code = ch.charCodeAt(0)
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

let stdoutClosed = false
const onClose: Array<() => void> = []

for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    if (stream === process.stdout) {
      stdoutClosed = true
      for (const callback of onClose.splice(0)) callback()
    }
  })
}

/**
 * Runs once stdout is closed by its reader (`family-sync drain --watch | head`):
 * at the next write (EPIPE), or, while nothing is written, when the reader's
 * process lets go of the pipe.
 */
export function whenStdoutCloses(callback: () => void): void {
  if (stdoutClosed) return callback()
  onClose.push(callback)
  if (onClose.length === 1) {
    const stop = watchPipeReaders(() => {
      stdoutClosed = true
      for (const waiting of onClose.splice(0)) waiting()
    })
    onClose.push(stop)
  }
}

/** A line of human output: scrubbed, controls escaped. */
export function line(text: string): void {
  if (!stdoutClosed) process.stdout.write(escapeControl(scrub(text)) + '\n')
}

/** A machine document (JSON, Prometheus text, a SQL script), printed once the command has succeeded. */
export function document(text: string): void {
  if (!stdoutClosed) process.stdout.write(scrub(text))
}

export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v), 2) + '\n'
}

export function printJson(value: unknown): void {
  document(jsonText(value))
}

/**
 * A machine document written to a file whole or not at all: into a temporary
 * file beside it, then renamed over it, so a reader (a node-exporter textfile
 * collector) never sees half of one, and a failed run leaves the last one.
 */
export function documentToFile(path: string, text: string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  try {
    writeFileSync(temporary, scrub(text))
    renameSync(temporary, path)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw new FamilySyncError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; check that its directory exists and is writable`)
  }
}

export function errorLine(text: string): void {
  process.stderr.write(escapeControl(scrub(text)) + '\n')
}

/** Informational lines to stdout (or stderr when stdout carries a document), warnings to stderr. */
export function consoleReporter(options: { infoToStderr?: boolean } = {}): Reporter {
  return {
    info: (text) => (options.infoToStderr ? errorLine(text) : line(text)),
    warn: (text) => errorLine(`family-sync: warning: ${text}`),
  }
}
