import { describe } from 'vitest'

/**
 * describe when what the tests need is here; otherwise describe.skip, with
 * one line saying what is missing and how to get it, so a skip is never
 * silent in a log.
 */
export function describeWhen(available: unknown, missing: string): typeof describe | typeof describe.skip {
  if (available) return describe
  console.warn(`family-sync tests: skipped, ${missing}`)
  return describe.skip
}

export const NEEDS_MARIADBD = 'needs mariadbd to start servers of its own (Debian: apt-get install mariadb-server)'
