import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Catalogue } from '../../src/db/catalogue.js'
import { triggersDir } from '../../src/paths.js'

/**
 * "Another version of family-sync": a copy of triggers/ with some files
 * rewritten, as a catalogue the migrator can install from.
 */
export function catalogueWith(changes: Record<string, (sql: string) => string>): { catalogue: Catalogue; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'family-sync-triggers-'))
  cpSync(triggersDir(), dir, { recursive: true })
  for (const [name, change] of Object.entries(changes)) {
    const file = join(dir, `${name}.sql`)
    const before = readFileSync(file, 'utf8')
    const after = change(before)
    if (after === before) throw new Error(`catalogueWith: the change to ${name} changed nothing`)
    writeFileSync(file, after)
  }
  return { catalogue: new Catalogue(dir), remove: () => rmSync(dir, { recursive: true, force: true }) }
}
