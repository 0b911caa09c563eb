#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { registerCheck } from './cli/commands/check.js'
import { registerDrain } from './cli/commands/drain.js'
import { registerMigrate } from './cli/commands/migrate.js'
import { registerPrune } from './cli/commands/prune.js'
import { registerRepair } from './cli/commands/repair.js'
import { registerServe } from './cli/commands/serve.js'
import { registerSql } from './cli/commands/sql.js'
import { registerVerify } from './cli/commands/verify.js'
import { errorLine } from './cli/output.js'
import { reportFailure } from './cli/runtime.js'
import { EXIT_CANNOT_RUN, EXIT_OK, FamilySyncError } from './errors.js'
import { packageVersion } from './paths.js'

const COMMANDS = 'migrate, sql, check, verify, repair, drain, prune or serve'

const program = new Command('family-sync')
  .description("Keep children's users.family_id in step with their parent's on MySQL/MariaDB")
  .version(packageVersion(), '-v, --version')
  .option('--url <url>', 'mysql://user:password@host:port/database[?ssl-mode=...&ssl-ca=...] (default: $DATABASE_URL)')
  .option('--password-file <path>', "read the password from this file (one trailing newline dropped), e.g. a mounted Kubernetes secret; the URL then holds none (default: $DATABASE_PASSWORD_FILE)")
  .configureHelp({ showGlobalOptions: true })
  .showSuggestionAfterError()
  .exitOverride()
  .configureOutput({
    // Commander's own usage errors, as one line like every other failure.
    outputError: (message) => errorLine(`family-sync: ${message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}; see family-sync --help`),
  })
  .addHelpText(
    'after',
    `
Exit status: 0 all is well; 1 the command ran and found a problem; 2 it could
not do its job (one line on stderr says what failed and what to do).
Connection URL parameters: ssl-mode (DISABLED, PREFERRED, REQUIRED, VERIFY_CA,
VERIFY_IDENTITY), ssl-ca, ssl-cert, ssl-key, socket.`,
  )

registerMigrate(program)
registerSql(program)
registerCheck(program)
registerVerify(program)
registerRepair(program)
registerDrain(program)
registerPrune(program)
registerServe(program)

try {
  if (process.argv.length <= 2) throw new FamilySyncError(`a command is required: ${COMMANDS}; see family-sync --help`)
  // -V was the version flag before -v; both keep working.
  await program.parseAsync(process.argv.length === 3 && process.argv[2] === '-V' ? [...process.argv.slice(0, 2), '--version'] : process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? EXIT_OK : EXIT_CANNOT_RUN
  } else {
    reportFailure(error)
  }
}
