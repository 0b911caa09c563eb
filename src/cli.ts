#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { registerMigrate } from './cli/migrate.js'
import { registerOperations } from './cli/operate.js'
import { reportFailure } from './cli/runtime.js'
import { EXIT_CANNOT_RUN } from './errors.js'
import { packageVersion } from './paths.js'

const program = new Command('family-sync')
  .description("Keep children's users.family_id in step with their parent's on MySQL/MariaDB")
  .version(packageVersion(), '-V, --version')
  .option('--url <url>', 'mysql://user:password@host:port/database (default: $DATABASE_URL)')
  .showSuggestionAfterError()
  .exitOverride()
  .configureOutput({
    // Commander's own usage errors, as one line like every other failure.
    outputError: (message, write) => write(`family-sync: ${message.replace(/^error: /, '').trim()}; see family-sync --help\n`),
  })

registerMigrate(program)
registerOperations(program)

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    const clean = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help'
    process.exitCode = clean ? 0 : EXIT_CANNOT_RUN
  } else {
    reportFailure(error)
  }
}
