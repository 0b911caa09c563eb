import knexFactory from 'knex'

// Every test database is named fs_test_<run>_…, <run> being the run's start
// time in base 36: a run drops its own at the end, and the next run drops any
// a killed or timed-out run left behind once it is an hour old (another suite
// may be running on the same server right now).
export const DATABASE_PREFIX = 'fs_test_'
const STALE_MS = 60 * 60 * 1000

export function newRunId(): string {
  return Date.now().toString(36)
}

function runTime(database: string): number | null {
  const match = /^fs_test_([0-9a-z]{8})_/.exec(database)
  return match ? parseInt(match[1], 36) : null
}

function quote(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`'
}

/** Drops this run's databases, or (no run given) those of runs over an hour old; then, when no other run's databases remain, the test accounts (fs_…). */
export async function sweep(serverUrl: string, run?: string): Promise<string[]> {
  const knex = knexFactory({ client: 'mysql2', connection: serverUrl, pool: { min: 0, max: 1 } })
  const dropped: string[] = []
  try {
    const [schemas] = (await knex.raw("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'fs\\_test\\_%'")) as [Array<{ name: string }>]
    const doomed = schemas.map((s) => s.name).filter((name) => {
      if (run) return name.startsWith(`${DATABASE_PREFIX}${run}_`)
      const started = runTime(name)
      return started === null || Date.now() - started > STALE_MS
    })
    for (const name of doomed) {
      await killConnectionsOf(knex, name)
      await knex.raw(`DROP DATABASE IF EXISTS ${quote(name)}`)
      dropped.push(name)
    }
    if (schemas.length === doomed.length) {
      const [accounts] = (await knex.raw("SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE 'fs\\_%'")) as [Array<{ user: string; host: string }>]
      for (const { user, host } of accounts) await knex.raw('DROP USER IF EXISTS ?@?', [user, host])
    }
  } finally {
    await knex.destroy()
  }
  return dropped
}

/** A DROP DATABASE waits for every open transaction in it: end them first. */
export async function killConnectionsOf(knex: knexFactory.Knex, database: string): Promise<void> {
  const [rows] = (await knex.raw('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()', [database])) as [Array<{ id: number }>]
  for (const { id } of rows) await knex.raw(`KILL ${Number(id)}`).catch(() => undefined)
}
