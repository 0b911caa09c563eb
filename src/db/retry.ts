// Deadlocks, lock-wait timeouts and Galera certification conflicts are normal
// under concurrent writes: the server rolled the transaction back, so running
// it again is safe. The pause grows, with jitter, up to two seconds.
const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'FAMILY_SYNC_AUDIT_DRIFT'])

export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has((error as { code?: string }).code ?? '')
}

/** Runs `work` until it succeeds or fails for another reason; `attempts` bounds it (Infinity: never give up). */
export async function withRetry<T>(work: () => Promise<T>, attempts = 20): Promise<{ value: T; retries: number }> {
  for (let retries = 0; ; retries++) {
    try {
      return { value: await work(), retries }
    } catch (error) {
      if (!isRetryable(error) || retries + 1 >= attempts) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 20 * 2 ** retries) * (0.5 + Math.random() / 2)))
    }
  }
}
