// A small lexer for mysql-client scripts: it understands DELIMITER lines,
// quoted strings, identifiers and comments, which is all that is needed to
// split the reviewed files in triggers/ into statements and to compare
// stored bodies with them.

type Mode = 'code' | 'single' | 'double' | 'backtick' | 'line' | 'block'

interface Token {
  kind: 'code' | 'string' | 'comment' | 'space'
  text: string
}

function closingOf(ch: string): Mode | null {
  if (ch === "'") return 'single'
  if (ch === '"') return 'double'
  if (ch === '`') return 'backtick'
  return null
}

function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  let i = 0
  const push = (kind: Token['kind'], text: string) => tokens.push({ kind, text })
  while (i < sql.length) {
    const ch = sql[i]
    const next = sql[i + 1] ?? ''
    const quote = closingOf(ch)
    if (quote) {
      let j = i + 1
      while (j < sql.length) {
        if (sql[j] === '\\' && quote !== 'backtick') { j += 2; continue }
        if (sql[j] === ch) {
          if (sql[j + 1] === ch) { j += 2; continue }
          break
        }
        j++
      }
      push(quote === 'backtick' ? 'code' : 'string', sql.slice(i, j + 1))
      i = j + 1
    } else if (ch === '#' || (ch === '-' && next === '-' && /[\s]|^$/.test(sql[i + 2] ?? ''))) {
      const end = sql.indexOf('\n', i)
      const j = end === -1 ? sql.length : end
      push('comment', sql.slice(i, j))
      i = j
    } else if (ch === '/' && next === '*' && sql[i + 2] !== '!') {
      const end = sql.indexOf('*/', i + 2)
      const j = end === -1 ? sql.length : end + 2
      push('comment', sql.slice(i, j))
      i = j
    } else if (/\s/.test(ch)) {
      let j = i
      while (j < sql.length && /\s/.test(sql[j])) j++
      push('space', sql.slice(i, j))
      i = j
    } else {
      let j = i
      while (j < sql.length && !/[\s'"`#/-]/.test(sql[j])) j++
      if (j === i) j = i + 1
      push('code', sql.slice(i, j))
      i = j
    }
  }
  return tokens
}

/**
 * Splits a mysql-client script into statements, honouring DELIMITER lines the
 * way the client does (only at the start of a statement). Comments are kept
 * inside statements; statements made of comments only are dropped.
 */
export function splitScript(script: string): string[] {
  const statements: string[] = []
  let delimiter = ';'
  let current = ''
  let mode: Mode = 'code'
  const flush = () => {
    const tokens = tokenize(current)
    const first = tokens.findIndex((t) => t.kind === 'code' || t.kind === 'string')
    // Comments before a statement describe it; they are not part of it.
    if (first !== -1) statements.push(tokens.slice(first).map((t) => t.text).join('').trim())
    current = ''
  }
  let i = 0
  while (i < script.length) {
    const atLineStart = i === 0 || script[i - 1] === '\n'
    if (mode === 'code' && atLineStart && tokenize(current).every((t) => t.kind !== 'code' && t.kind !== 'string')) {
      const lineEnd = script.indexOf('\n', i)
      const line = script.slice(i, lineEnd === -1 ? script.length : lineEnd)
      const directive = /^\s*DELIMITER\s+(\S+)\s*$/i.exec(line)
      if (directive) {
        delimiter = directive[1]
        current = ''
        i = lineEnd === -1 ? script.length : lineEnd + 1
        continue
      }
    }
    const ch = script[i]
    if (mode === 'code') {
      if (script.startsWith(delimiter, i)) {
        flush()
        i += delimiter.length
        continue
      }
      const quote = closingOf(ch)
      if (quote) mode = quote
      else if (ch === '#' || (ch === '-' && script[i + 1] === '-' && /\s/.test(script[i + 2] ?? '\n'))) mode = 'line'
      else if (ch === '/' && script[i + 1] === '*') {
        current += '/*'
        i += 2
        mode = 'block'
        continue
      }
    } else if (mode === 'line') {
      if (ch === '\n') mode = 'code'
    } else if (mode === 'block') {
      if (ch === '*' && script[i + 1] === '/') {
        current += '*/'
        i += 2
        mode = 'code'
        continue
      }
    } else {
      const quoteChar = mode === 'single' ? "'" : mode === 'double' ? '"' : '`'
      if (ch === '\\' && mode !== 'backtick') {
        current += script.slice(i, i + 2)
        i += 2
        continue
      }
      if (ch === quoteChar) {
        if (script[i + 1] === quoteChar) {
          current += ch + ch
          i += 2
          continue
        }
        mode = 'code'
      }
    }
    current += ch
    i++
  }
  flush()
  return statements
}

/**
 * A form of SQL text in which comments and layout no longer count: comments
 * are removed and whitespace is kept only where it separates two words.
 * Anything that changes logic (a keyword, a name, an operator, a literal)
 * still changes the result.
 */
export function normalizeSql(sql: string): string {
  let out = ''
  let pendingSpace = false
  for (const token of tokenize(sql)) {
    if (token.kind === 'comment' || token.kind === 'space') {
      pendingSpace = true
      continue
    }
    if (pendingSpace && /\w$/.test(out) && /^[\w`'"]/.test(token.text)) out += ' '
    pendingSpace = false
    out += token.kind === 'string' ? token.text : token.text.toLowerCase()
  }
  return out.trim()
}
