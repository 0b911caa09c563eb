import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { packageRoot } from '../../src/paths.js'

export const CLI = join(packageRoot(), 'dist', 'src', 'cli.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the built `family-sync` executable, as a pipeline would. */
export function runCli(args: string[], options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: undefined, DEBUG: undefined, ...options.env }
    const child = spawn(process.execPath, [CLI, ...args], { env: env as NodeJS.ProcessEnv })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

export function startCli(args: string[], env: Record<string, string | undefined> = {}) {
  return spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DEBUG: undefined, ...env } as NodeJS.ProcessEnv })
}
