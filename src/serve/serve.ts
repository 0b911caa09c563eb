import type { AddressInfo } from 'node:net'
import { checkOnSession, NoSuchFamilyError, readQueueStatus, type QueueStatus } from '../check/consistency.js'
import type { ConnectionTarget } from '../connection/url.js'
import { drainUntilStopped } from '../drain/reconnecting.js'
import { describeError } from '../errors.js'
import { verifyOnSession, type VerifyReport } from '../verify/verify.js'
import { DrainLogFollower } from './drain-log.js'
import { createHttpServer, type Answer } from './http.js'
import { createServeMetrics } from './metrics.js'
import { scan, type ScanFigures } from './scanner.js'
import { SharedSession } from './shared-session.js'
import { sleep } from '../sleep.js'

export interface ServeOptions {
  host: string
  port: number
  /** Drain as drain --watch does (false: --no-drain, another process drains). */
  drain: boolean
  /** Drain even as an account whose rights reach beyond this database. */
  allowPrivilegedAccount?: boolean
  scanIntervalSeconds: number
  signal: AbortSignal
  /** One line of the serve log. */
  log(line: string): void
  /** Called once listening, with the address it listens on. */
  onListening?(address: AddressInfo): void
}

// A scrape reads the queue (one indexed query) at most once a second and
// never runs verify itself: verify, which reads information_schema and
// compares every object with triggers/ (tens of milliseconds), runs in the
// background every 30 s, and on /readyz when its result is older than that.
const QUEUE_FRESH_MS = 1000
const VERIFY_EVERY_MS = 30_000
const FOLLOW_EVERY_MS = 1000


/** Driver and family-sync errors are the database's answer (503); anything else is a fault of serve (500). */
function fromDatabase(error: unknown): boolean {
  const e = error as { errno?: unknown; code?: unknown; name?: string; fatal?: boolean }
  return e?.errno !== undefined || typeof e?.code === 'string' || e?.fatal === true || e?.name === 'FamilySyncError' || e?.name === 'NoSuchFamilyError'
}

/**
 * `family-sync serve`: drains (unless told not to), scans users every
 * `scanIntervalSeconds` within a time budget, follows the drain log, and
 * serves /metrics, /healthz, /readyz and /families/{id}/validate until the
 * signal aborts; then it finishes the drain call in hand, closes the
 * listener and its connections, and returns.
 */
export async function serve(target: ConnectionTarget, options: ServeOptions): Promise<void> {
  const where = `${target.host}:${target.port}`
  const requests = new SharedSession(target)
  const scans = new SharedSession(target)
  const said = new Set<string>()
  const sayOnce = (line: string) => {
    if (!said.has(line)) options.log(line)
    said.add(line)
  }
  let lastScan: ScanFigures | undefined
  let queue: { at: number; value: QueueStatus } | undefined
  let verify: { at: number; value: VerifyReport | null } | undefined

  const freshVerify = async () => {
    if (!verify || Date.now() - verify.at > VERIFY_EVERY_MS) verify = { at: Date.now(), value: await requests.use((s) => verifyOnSession(s)) }
    return verify.value
  }
  const metrics = await createServeMetrics({
    scan: () => lastScan,
    up: () => requests.up,
    async live() {
      if (!queue || Date.now() - queue.at > QUEUE_FRESH_MS) queue = { at: Date.now(), value: await requests.use((s) => readQueueStatus(s)) }
      return { queue: queue.value, verify: verify?.value ?? null }
    },
  })

  const unavailable = (error: unknown): Answer => ({ status: 503, body: { error: describeError(error, target).message } })
  const server = createHttpServer(
    {
      async metrics() {
        return { status: 200, body: await metrics.registry.metrics(), contentType: metrics.contentType }
      },
      async ready() {
        try {
          // The database must answer now, whatever verify said a moment ago.
          await requests.use((s) => s.scalar('SELECT 1'))
          const report = await freshVerify()
          if (!report) return { status: 503, body: { ready: false, problems: ['verify has not run yet'] } }
          return report.problems.length > 0 ? { status: 503, body: { ready: false, problems: report.problems } } : { status: 200, body: { ready: true, notes: report.notes } }
        } catch (error) {
          if (!fromDatabase(error)) throw error
          return { status: 503, body: { ready: false, problems: [describeError(error, target).message] } }
        }
      },
      async validate(familyId) {
        try {
          const id = Number.isSafeInteger(Number(familyId)) ? Number(familyId) : BigInt(familyId)
          const report = await requests.use((s) => checkOnSession(s, { familyId: id }))
          return { status: report.ok ? 200 : 409, body: report }
        } catch (error) {
          if (error instanceof NoSuchFamilyError) return { status: 404, body: { error: error.message } }
          if (!fromDatabase(error)) throw error
          return unavailable(error)
        }
      },
    },
    (error) => options.log(`request failed: ${(error as Error)?.stack ?? String(error)}`),
  )
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => resolve())
  })
  const address = server.address() as AddressInfo
  options.onListening?.(address)

  const drainLoop = (async () => {
    if (!options.drain) return
    while (!options.signal.aborted) {
      try {
        await drainUntilStopped(target, undefined, {
          signal: options.signal,
          allowPrivilegedAccount: options.allowPrivilegedAccount,
          onOutage: (error) => options.log(`lost the connection to ${where} (${(error as { code?: string }).code ?? (error as Error).message}); reconnecting`),
          onRecovered: (ms) => options.log(`reconnected to ${where} after ${(ms / 1000).toFixed(1)} s; draining`),
        })
      } catch (error) {
        // Not installed yet, a privilege missing: serve keeps serving, and says why it does not drain.
        sayOnce(`cannot drain: ${describeError(error, target).message}; retrying every 5 s`)
        await sleep(5000, options.signal)
      }
    }
  })()
  const scanLoop = (async () => {
    const budget = Math.min(60, Math.max(1, options.scanIntervalSeconds / 2))
    while (!options.signal.aborted) {
      try {
        lastScan = await scans.use((s) => scan(s, budget))
        metrics.scanned(lastScan)
      } catch (error) {
        if (options.signal.aborted) break
        sayOnce(`scan of users failed: ${describeError(error, target).message}; the figures stay as of the last scan`)
      }
      await sleep(options.scanIntervalSeconds * 1000, options.signal)
    }
  })()
  const verifyLoop = (async () => {
    while (!options.signal.aborted) {
      await freshVerify().catch(() => {})
      await sleep(VERIFY_EVERY_MS, options.signal)
    }
  })()
  const follower = new DrainLogFollower()
  const followLoop = (async () => {
    while (!options.signal.aborted) {
      await requests.use((s) => follower.poll(s, (outcome) => metrics.observe(outcome))).catch(() => {})
      await sleep(FOLLOW_EVERY_MS, options.signal)
    }
  })()

  await new Promise<void>((resolve) => (options.signal.aborted ? resolve() : options.signal.addEventListener('abort', () => resolve(), { once: true })))
  // Stop taking requests, let those in hand finish, and do not wait on keep-alive connections.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  server.closeIdleConnections()
  const giveUp = setTimeout(() => server.closeAllConnections(), 3000)
  // A scan can be in the middle of a long statement: it is not waited for.
  await scans.destroy()
  await Promise.all([closed, drainLoop, followLoop, verifyLoop])
  clearTimeout(giveUp)
  await requests.close()
  // A scan whose connection was still being opened when it was cut: closed once its loop is done.
  await scanLoop.catch(() => {})
  await scans.close()
}
