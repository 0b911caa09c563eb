import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The same code runs from src/ (tests, tsx) and from dist/src/ (the installed
// package), so the package root is found by walking up, not by a fixed "../".
// It is looked for on first use, never at import.
let root: string | undefined

export function packageRoot(): string {
  if (root !== undefined) return root
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'family-sync') return (root = dir)
    const parent = dirname(dir)
    if (parent === dir) throw new Error('family-sync: cannot find the package root (package.json)')
    dir = parent
  }
}

export function triggersDir(): string {
  return join(packageRoot(), 'triggers')
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version
}
