import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { normalizeSql, splitScript, tokenize } from '../../src/sql/lexer.js'

describe('splitScript', () => {
  it('splits on ; and on a DELIMITER set at the start of a statement', () => {
    const script = ['SELECT 1;', 'DELIMITER $$', 'CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END$$', 'DELIMITER ;', 'SELECT 3;'].join('\n')
    expect(splitScript(script)).toEqual(['SELECT 1', 'CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END', 'SELECT 3'])
  })

  it('ignores DELIMITER inside a statement, as the client does', () => {
    expect(splitScript('SELECT 1,\nDELIMITER $$\n;')).toEqual(['SELECT 1,\nDELIMITER $$'])
  })

  it('never splits inside strings, quoted names or comments', () => {
    const script = `SELECT 'a;b', "c;d", \`e;f\`, 'it''s', 'back\\'slash;' -- tail; comment\n# hash; comment\n/* block; */ FROM t;`
    const [one, ...rest] = splitScript(script)
    expect(rest).toEqual([])
    expect(one.startsWith("SELECT 'a;b'")).toBe(true)
    expect(one.endsWith('FROM t')).toBe(true)
  })

  it('drops comments before a statement and comment-only statements', () => {
    expect(splitScript('-- about it\n/* more */\nSELECT 1;\n-- trailing note\n')).toEqual(['SELECT 1'])
  })

  it('keeps a conditional comment whole, even with the delimiter in it', () => {
    expect(splitScript('SELECT /*! STRAIGHT_JOIN; */ 1;')).toEqual(['SELECT /*! STRAIGHT_JOIN; */ 1'])
  })

  it('treats -- without a following space as an operator, like MySQL', () => {
    expect(splitScript('SELECT 1--1;')).toEqual(['SELECT 1--1'])
  })

  it('finds a delimiter glued to a word, as in END$$', () => {
    expect(splitScript('DELIMITER $$\nBEGIN SELECT 1; END$$\nDELIMITER ;\n')).toEqual(['BEGIN SELECT 1; END'])
  })

  it('is linear: 8,000 comment lines split in well under a second', () => {
    const script = Array.from({ length: 8000 }, (_, i) => `-- comment line ${i}; with a semicolon`).join('\n') + '\nSELECT 1;\n'
    const started = performance.now()
    expect(splitScript(script)).toEqual(['SELECT 1'])
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('reads every file in triggers/ as exactly one statement', () => {
    const dir = join(import.meta.dirname, '..', '..', 'triggers')
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
      const statements = splitScript(readFileSync(join(dir, file), 'utf8'))
      expect(statements, file).toHaveLength(1)
      expect(statements[0], file).toMatch(/^CREATE /)
    }
  })
})

describe('normalizeSql', () => {
  it('ignores comments, case of keywords and layout', () => {
    expect(normalizeSql('SELECT  a,\n  b -- why\nFROM t /* note */ WHERE x = 1')).toBe(normalizeSql('select a,b from t where x=1'))
  })

  it('keeps what changes logic: literals, operators, names, conditional comments', () => {
    expect(normalizeSql("SELECT 'A'")).not.toBe(normalizeSql("SELECT 'a'"))
    expect(normalizeSql('SELECT a <=> b')).not.toBe(normalizeSql('SELECT a = b'))
    expect(normalizeSql('SELECT `A`')).not.toBe(normalizeSql('SELECT `B`'))
    expect(normalizeSql('SELECT /*! 1 */')).not.toBe(normalizeSql('SELECT'))
  })

  it('keeps a space only where two words would otherwise merge', () => {
    expect(normalizeSql('NOT (a IS NULL)')).toBe('not(a is null)')
  })
})

describe('tokenize', () => {
  it('gives back the exact input, token by token', () => {
    const sql = "SELECT `a``b`, 'x\\'y', \"q\" -- c\n/* d */ #e\n/*!50000 f */ @v <=> 1"
    expect(tokenize(sql).map((t) => t.text).join('')).toBe(sql)
  })
})
