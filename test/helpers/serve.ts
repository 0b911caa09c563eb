import { spawn, type ChildProcess } from 'node:child_process'
import { CLI } from './cli.js'

export interface Served {
  /** http://host:port, as serve reported it. */
  base: string
  child: ChildProcess
  /** Everything serve printed so far. */
  output(): string
  get(path: string, init?: RequestInit): Promise<{ status: number; body: string; headers: Headers; ms: number }>
  /** SIGTERM; resolves with the exit code and how long it took. */
  stop(): Promise<{ code: number | null; ms: number }>
}

/** Runs `family-sync serve` on a free port and waits until it listens. */
export async function startServe(args: string[], env: Record<string, string | undefined> = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', ...args], { env: { ...process.env, DATABASE_URL: undefined, DEBUG: undefined, ...env } })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 20_000)
    const look = () => {
      const m = /serving (http:\/\/[^/\s]+)\//.exec(output)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    }
    child.stdout.on('data', look)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited ${code}: ${output}`))
    })
  })
  const served: Served = {
    base,
    child,
    output: () => output,
    async get(path, init) {
      const started = performance.now()
      const response = await fetch(base + path, init)
      const body = await response.text()
      return { status: response.status, body, headers: response.headers, ms: performance.now() - started }
    },
    stop() {
      const started = Date.now()
      if (child.exitCode !== null) return Promise.resolve({ code: child.exitCode, ms: 0 })
      const exited = new Promise<{ code: number | null; ms: number }>((resolve) => child.once('exit', (code) => resolve({ code, ms: Date.now() - started })))
      child.kill('SIGTERM')
      const hard = setTimeout(() => child.kill('SIGKILL'), 15_000)
      return exited.finally(() => clearTimeout(hard))
    },
  }
  return served
}
