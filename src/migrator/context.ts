import type { Knex } from 'knex'
import { withSession } from '../connection/session.js'
import { silentProgress, type Progress } from '../progress.js'

/**
 * apply: run against the server. dry-run: read the server, record the
 * changes instead of making them. script: no server at all, record
 * everything (`family-sync sql`).
 */
export type RunMode = 'apply' | 'dry-run' | 'script'

export interface Reporter {
  info(line: string): void
  warn(line: string): void
}

export const quietReporter: Reporter = { info() {}, warn() {} }

export interface MigrationContext {
  mode: RunMode
  /** Absent in script mode only. */
  knex: Knex | undefined
  reporter: Reporter
  progress: Progress
  batchMs: number
  /** Statements recorded instead of run (dry-run and script modes). */
  recorded: string[]
  /**
   * Runs statements in order on one connection (LOCK TABLES needs that), or
   * records them when not applying.
   */
  exec(...statements: string[]): Promise<void>
}

export function createContext(mode: RunMode, knex: Knex | undefined, options: Partial<Pick<MigrationContext, 'reporter' | 'progress' | 'batchMs'>> = {}): MigrationContext {
  const recorded: string[] = []
  return {
    mode,
    knex,
    reporter: options.reporter ?? quietReporter,
    progress: options.progress ?? silentProgress,
    batchMs: options.batchMs ?? 100,
    recorded,
    async exec(...statements) {
      if (mode !== 'apply') {
        recorded.push(...statements)
        return
      }
      if (!knex) throw new Error('exec: no connection')
      await withSession(knex, async (session) => {
        for (const sql of statements) await session.query(sql)
      })
    },
  }
}

export function requireKnex(ctx: MigrationContext): Knex {
  if (!ctx.knex) throw new Error('this step needs a database connection')
  return ctx.knex
}
