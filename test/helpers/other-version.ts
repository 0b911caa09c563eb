import { spawn, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../../src/paths.js'
import type { CliResult } from './cli.js'

export interface OtherVersion {
  version: string
  dir: string
  run(args: string[], options?: { timeoutMs?: number }): Promise<CliResult>
  remove(): void
}

function runner(cli: string) {
  return (args: string[], options: { timeoutMs?: number } = {}) =>
    new Promise<CliResult>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, DATABASE_URL: undefined, DEBUG: undefined } })
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

/**
 * "The next version of family-sync": a copy of this package's build with its
 * version bumped and some files of triggers/ rewritten, runnable as its own
 * CLI against the same database.
 */
export function newerVersion(version: string, changes: Record<string, (sql: string) => string>): OtherVersion {
  const dir = mkdtempSync(join(tmpdir(), 'family-sync-newer-'))
  const root = packageRoot()
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(join(root, 'triggers'), join(dir, 'triggers'), { recursive: true })
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...manifest, version }, null, 2))
  for (const [name, change] of Object.entries(changes)) {
    const file = join(dir, 'triggers', `${name}.sql`)
    const before = readFileSync(file, 'utf8')
    const after = change(before)
    if (after === before) throw new Error(`newerVersion: the change to ${name} changed nothing`)
    writeFileSync(file, after)
  }
  return { version, dir, run: runner(join(dir, 'dist', 'src', 'cli.js')), remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * A released version of family-sync built from this repository's history
 * (`git archive` of that commit), with this checkout's node_modules.
 */
export function releasedVersion(commit: string): OtherVersion {
  const dir = mkdtempSync(join(tmpdir(), `family-sync-${commit}-`))
  const root = packageRoot()
  const archive = spawnSync('git', ['-C', root, 'archive', '--format=tar', commit], { maxBuffer: 256 * 1024 * 1024 })
  if (archive.status !== 0) throw new Error(`git archive ${commit} failed: ${archive.stderr.toString()}`)
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout })
  if (untar.status !== 0) throw new Error(`untar failed: ${untar.stderr.toString()}`)
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  const build = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, encoding: 'utf8' })
  if (build.status !== 0) throw new Error(`building ${commit} failed: ${build.stdout}${build.stderr}`)
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }
  return { version, dir, run: runner(join(dir, 'dist', 'src', 'cli.js')), remove: () => rmSync(dir, { recursive: true, force: true }) }
}
