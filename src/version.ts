import { packageVersion } from './paths.js'

/** Compares two `major.minor.patch` versions: negative, zero or positive. Anything after the patch number is ignored. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.+-]/).slice(0, 3).map((n) => Number.parseInt(n, 10) || 0)
  const [x, y] = [parts(a), parts(b)]
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i]
  return 0
}

/** Whether a record written by `recorded` comes from a newer version of family-sync than this one. */
export function isNewer(recorded: string | null | undefined): recorded is string {
  return !!recorded && compareVersions(recorded, packageVersion()) > 0
}

/** A record's version as people read it: records from before versions were kept say so. */
export function shownVersion(recorded: string | null | undefined): string {
  return recorded ?? '0.2 or earlier'
}
