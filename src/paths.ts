import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The same code runs from src/ (tests, tsx) and from dist/src/ (the installed
// package), so the package root is found by walking up, not by a fixed "../".
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }
      if (name === 'family-sync') return dir
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('family-sync: cannot find the package root (package.json)')
    dir = parent
  }
}

export const packageRoot = findPackageRoot()
export const triggersDir = join(packageRoot, 'triggers')

export function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
  return version
}
