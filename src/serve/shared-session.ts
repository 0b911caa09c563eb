import { connect, type OpenSession } from '../connection/connect.js'
import type { Session } from '../connection/session.js'
import { isTransient } from '../connection/transient.js'
import type { ConnectionTarget } from '../connection/url.js'

/**
 * One connection that serve's requests take turns on, opened on first use and
 * again after the server dropped it. While the server is away, a request
 * fails at once for a few seconds after a failed attempt instead of waiting
 * out a connect timeout on every scrape.
 */
export class SharedSession {
  private open: OpenSession | undefined
  private queue: Promise<unknown> = Promise.resolve()
  private failedAt = 0
  private lastError: unknown
  /** Whether the last use reached the database. */
  up = false

  constructor(private readonly target: ConnectionTarget, private readonly retryAfterMs = 2000) {}

  use<T>(work: (session: Session) => Promise<T>): Promise<T> {
    const turn = this.queue.then(() => this.run(work))
    this.queue = turn.catch(() => {})
    return turn
  }

  private async run<T>(work: (session: Session) => Promise<T>): Promise<T> {
    if (!this.open && Date.now() - this.failedAt < this.retryAfterMs) throw this.lastError
    try {
      this.open ??= await connect(this.target)
      const value = await work(this.open.session)
      this.up = true
      return value
    } catch (error) {
      if (!this.open || isTransient(error)) {
        this.up = false
        this.failedAt = Date.now()
        this.lastError = error
        await this.open?.close().catch(() => {})
        this.open = undefined
      }
      throw error
    }
  }

  /** Cuts the connection now, whatever it is doing (a long scan at shutdown). */
  async destroy(): Promise<void> {
    const open = this.open
    this.open = undefined
    this.failedAt = Date.now()
    open?.destroy?.()
  }

  async close(): Promise<void> {
    await this.queue
    await this.open?.close().catch(() => {})
    this.open = undefined
  }
}
