import { migrations } from '../../migrations/index.js'
import type { Session } from '../connection/session.js'
import { BATCH_MS, LOCK_TIMEOUT_SECONDS } from '../defaults.js'
import type { Catalogue } from '../db/catalogue.js'
import { silentProgress } from '../progress.js'
import { quietReporter } from '../reporter.js'
import type { MigrationLock } from './lock.js'
import type { MigratorOptions } from './migrator.js'
import type { Plan } from './plan.js'
import { runSteps, type RunContext, type RunMode } from './runner.js'
import { SessionStorage } from './storage.js'

/** Runs `work` with a short session lock_wait_timeout, and puts the session's own back. */
export async function withLockWait<T>(session: Session, seconds: number, work: () => Promise<T>): Promise<T> {
  const previous = await session.scalar<number>('SELECT @@SESSION.lock_wait_timeout')
  await session.run('SET SESSION lock_wait_timeout = ?', [seconds])
  try {
    return await work()
  } finally {
    await session.run('SET SESSION lock_wait_timeout = ?', [previous ?? seconds]).catch(() => {})
  }
}

export function context(mode: RunMode, session: Session | undefined, p: Plan | undefined, catalogue: Catalogue, options: MigratorOptions, lock?: MigrationLock): RunContext {
  return {
    mode,
    session,
    server: p?.server,
    catalogue,
    reporter: options.reporter ?? quietReporter,
    progress: options.progress ?? silentProgress,
    lock,
    lockTimeoutSeconds: options.lockTimeoutSeconds ?? LOCK_TIMEOUT_SECONDS,
    batchMs: options.batchMs ?? BATCH_MS,
    installed: p?.installed,
    canCreateEvent: p?.canCreateEvent ?? true,
    script: [],
    foreignToDrop: [...(p?.drop ?? [])],
    strategy: options.strategy,
    preflightNotes: p?.preflightNotes ?? [],
    definer: p && p.definer !== p.server.currentUser ? p.definer : undefined,
  }
}

/**
 * Umzug over the migrations' steps, recording in family_sync_migrations on
 * the migrating session. Loaded only when there is something to run: a
 * deploy's no-op migrate up never pays for it.
 */
export async function umzugFor(ctx: RunContext, session: Session) {
  const { Umzug } = await import('umzug')
  return new Umzug({
    migrations: migrations.map((m) => ({ name: m.name, up: () => runSteps(ctx, m.up), down: () => runSteps(ctx, m.down) })),
    context: {},
    storage: new SessionStorage(session),
    logger: undefined,
  })
}

