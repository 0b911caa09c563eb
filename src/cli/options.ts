import { FamilySyncError } from '../errors.js'

/** A whole number within [min, max], as commander's option parser. */
export function wholeNumber(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new FamilySyncError(`${flag} takes a whole number from ${min} to ${max}, got '${value}'`)
    return n
  }
}

const BIGINT_MIN = -(2n ** 63n)
const BIGINT_MAX = 2n ** 63n - 1n

/**
 * An id, exact at any size a BIGINT column holds: a number up to 2^53, a
 * BigInt beyond (never rounded to a neighbour).
 */
export function idNumber(flag: string) {
  return (value: string): number | bigint => {
    if (!/^-?\d+$/.test(value)) throw new FamilySyncError(`${flag} takes a whole number, got '${value}'`)
    const n = BigInt(value)
    if (n < BIGINT_MIN || n > BIGINT_MAX) throw new FamilySyncError(`${flag} ${value} is out of range for an id column (BIGINT)`)
    return Number.isSafeInteger(Number(n)) ? Number(n) : n
  }
}

const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
  tinyint: [-(2n ** 7n), 2n ** 7n - 1n],
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
  mediumint: [-(2n ** 23n), 2n ** 23n - 1n],
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  bigint: [BIGINT_MIN, BIGINT_MAX],
}

/** The range of an integer column type as information_schema.COLUMNS.COLUMN_TYPE gives it ("int(11) unsigned"). */
export function integerRange(columnType: string): [bigint, bigint] | null {
  const [, base] = /^(\w+)/.exec(columnType.toLowerCase()) ?? []
  const range = INTEGER_RANGES[base ?? '']
  if (!range) return null
  if (/unsigned/i.test(columnType)) return [0n, range[1] * 2n + 1n]
  return range
}
