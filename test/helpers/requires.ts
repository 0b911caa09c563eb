import { describe } from 'vitest'
import { cannotStartServers } from './suite-build.js'

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

/** describe for tests that start servers of the suite's kind (restarts, replicas, TLS, another scheduler state). */
export function describeWithOwnServers(): typeof describe | typeof describe.skip {
  const missing = cannotStartServers()
  return describeWhen(!missing, missing ?? '')
}
