import type { Knex } from 'knex'
import { knexConfig } from './src/connection/knex.js'
import { parseDatabaseUrl } from './src/connection/url.js'

// The same DATABASE_URL the family-sync CLI reads, so `knex seed:run` and the
// CLI always talk to the same database.
const url = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/family_sync_demo'

const config: Knex.Config = {
  ...knexConfig(parseDatabaseUrl(url)),
  seeds: { directory: './seeds', extension: 'ts', loadExtensions: ['.ts'] },
}

export default config
