import type { Knex } from 'knex'
import { driverOptions } from './src/connection/options.js'
import { withPasswordFile } from './src/connection/password-file.js'
import { parseDatabaseUrl } from './src/connection/url.js'

// The same DATABASE_URL (and DATABASE_PASSWORD_FILE) the family-sync CLI
// reads, so `knex seed:run` and the CLI always talk to the same database.
const url = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/family_sync_demo'

const config: Knex.Config = {
  client: 'mysql2',
  connection: driverOptions(withPasswordFile(parseDatabaseUrl(url), process.env.DATABASE_PASSWORD_FILE)),
  pool: { min: 0, max: 2 },
  seeds: { directory: './seeds', extension: 'ts', loadExtensions: ['.ts'] },
}

export default config
