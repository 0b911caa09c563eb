import type { Reporter } from '../migrator/context.js'

export const consoleReporter: Reporter = {
  info: (line) => process.stdout.write(line + '\n'),
  warn: (line) => process.stderr.write(`family-sync: warning: ${line}\n`),
}
