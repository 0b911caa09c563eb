import type { Command } from 'commander'
import { EXIT_OK } from '../../errors.js'
import { consoleReporter, document } from '../output.js'
import { withConnection, type GlobalOptions } from '../runtime.js'

export function registerSql(program: Command): void {
  program
    .command('sql')
    .description('print what `migrate up` would run now as one mysql-client script: with a database (--url or DATABASE_URL) what is pending there, without one everything, as on an empty database')
    .action(async (_options, command: Command) => {
      const flags = command.optsWithGlobals<GlobalOptions>()
      if (!flags.url && !process.env.DATABASE_URL) {
        const { installScript } = await import('../../migrator/migrator.js')
        document(await installScript())
        process.exitCode = EXIT_OK
        return
      }
      await withConnection(flags, async (session) => {
        const { upOnSession } = await import('../../migrator/migrator.js')
        document((await upOnSession(session, { dryRun: true }, { reporter: consoleReporter({ infoToStderr: true }) })).script ?? '')
        return EXIT_OK
      })
    })
}
