// One lexer for mysql-client scripts, used both to split the reviewed files in
// triggers/ into statements and to compare stored bodies with them, so the
// two can never disagree about what is a comment, a string or code. It reads
// each character once: splitting an 8,000-line file costs what reading it does.

export type TokenKind =
  | 'word' // keywords, names, numbers
  | 'quoted' // `identifier`
  | 'string' // 'text' or "text"
  | 'conditional' // /*! ... */ and /*M! ... */: code the server runs
  | 'comment' // -- ..., # ..., /* ... */
  | 'space' // whitespace, never past the end of a line
  | 'symbol' // anything else, one character

export interface Token {
  kind: TokenKind
  text: string
}

const SPACE = /\s/
const WORD = /[\p{L}\p{N}_$@]/u

/** Where the token starting at `i` ends, and its kind. A `delimiter` ends words and symbols early. */
function scan(sql: string, i: number, delimiter: string): [TokenKind, number] {
  const ch = sql[i]
  const next = sql[i + 1]
  if (ch === "'" || ch === '"' || ch === '`') {
    let j = i + 1
    while (j < sql.length) {
      if (sql[j] === '\\' && ch !== '`') j += 2
      else if (sql[j] === ch && sql[j + 1] === ch) j += 2
      else if (sql[j] === ch) return [ch === '`' ? 'quoted' : 'string', j + 1]
      else j++
    }
    return [ch === '`' ? 'quoted' : 'string', sql.length]
  }
  // MySQL's rule: `--` starts a comment only when a space or the end follows it.
  if (ch === '#' || (ch === '-' && next === '-' && (i + 2 >= sql.length || SPACE.test(sql[i + 2])))) {
    const end = sql.indexOf('\n', i)
    return ['comment', end === -1 ? sql.length : end]
  }
  if (ch === '/' && next === '*') {
    const end = sql.indexOf('*/', i + 2)
    const conditional = sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!')
    return [conditional ? 'conditional' : 'comment', end === -1 ? sql.length : end + 2]
  }
  if (SPACE.test(ch)) {
    let j = i
    while (j < sql.length && SPACE.test(sql[j])) {
      j++
      if (sql[j - 1] === '\n') break
    }
    return ['space', j]
  }
  if (WORD.test(ch)) {
    let j = i + 1
    while (j < sql.length && WORD.test(sql[j]) && !(delimiter && sql.startsWith(delimiter, j))) j++
    return ['word', j]
  }
  return ['symbol', i + 1]
}

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  for (let i = 0; i < sql.length; ) {
    const [kind, end] = scan(sql, i, '')
    tokens.push({ kind, text: sql.slice(i, end) })
    i = end
  }
  return tokens
}

const isCode = (kind: TokenKind) => kind !== 'comment' && kind !== 'space'
const DELIMITER_LINE = /[ \t]*delimiter[ \t]+(\S+)[ \t]*(?:\r?\n|$)/iy

/**
 * Splits a mysql-client script into statements, honouring DELIMITER lines the
 * way the client does: only where a statement has not started yet. Comments
 * before a statement describe it and are left out; comments inside it stay.
 */
export function splitScript(script: string): string[] {
  const statements: string[] = []
  let delimiter = ';'
  let start = -1 // first code character of the statement in hand
  let lineStart = true
  const flush = (end: number) => {
    if (start !== -1) statements.push(script.slice(start, end).trim())
    start = -1
  }
  for (let i = 0; i < script.length; ) {
    if (lineStart && start === -1) {
      DELIMITER_LINE.lastIndex = i
      const directive = DELIMITER_LINE.exec(script)
      if (directive) {
        delimiter = directive[1]
        i = DELIMITER_LINE.lastIndex
        continue
      }
    }
    if (script.startsWith(delimiter, i)) {
      flush(i)
      i += delimiter.length
      lineStart = false
      continue
    }
    const [kind, end] = scan(script, i, delimiter)
    if (start === -1 && isCode(kind)) start = i
    lineStart = script[end - 1] === '\n'
    i = end
  }
  flush(script.length)
  return statements
}

/**
 * A form of SQL text in which comments and layout no longer count: comments
 * are removed, keywords and names are lower-cased, and whitespace is kept only
 * where it separates two words. Anything that changes logic (a keyword, a
 * name, an operator, a literal, a conditional comment) still changes it.
 */
export function normalizeSql(sql: string): string {
  let out = ''
  let pendingSpace = false
  for (const token of tokenize(sql)) {
    if (!isCode(token.kind)) {
      pendingSpace = true
      continue
    }
    if (pendingSpace && /[\w`'"$@]$/.test(out) && /^[\w`'"$@]/.test(token.text)) out += ' '
    pendingSpace = false
    out += token.kind === 'word' ? token.text.toLowerCase() : token.text
  }
  return out
}
