import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { triggersDir } from '../../src/paths.js'
import { tokenize } from '../../src/sql/lexer.js'

// MySQL keeps a stored body's string literals unescaped in information_schema
// (MariaDB re-escapes them), so a body with an escaped quote or backslash would
// read back different from its file on MySQL: verify would call it edited and
// every migrate up would reinstall it. MySQL 9 also has no MD5() or SHA1(), and
// a call to a function the server does not have runs a stored function of
// that name in the database, whoever wrote it.
describe('the bodies in triggers/ read back the same on every server', () => {
  for (const file of readdirSync(triggersDir()).filter((f) => f.endsWith('.sql'))) {
    it(file, () => {
      const tokens = tokenize(readFileSync(join(triggersDir(), file), 'utf8'))
      const strings = tokens.filter((t) => t.kind === 'string').map((t) => t.text)
      for (const literal of strings) {
        const inside = literal.slice(1, -1)
        expect(inside, `${file}: ${literal}`).not.toContain(literal[0] + literal[0])
        expect(inside.replace(/\\[_%]/g, ''), `${file}: ${literal}`).not.toContain('\\')
      }
      const code = tokens.filter((t) => t.kind === 'word').map((t) => t.text.toUpperCase())
      expect(code.filter((word) => ['MD5', 'SHA1', 'SHA', 'PASSWORD', 'ENCRYPT'].includes(word)), file).toEqual([])
    })
  }
})
