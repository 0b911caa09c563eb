// Deadlocks and lock-wait timeouts are normal under concurrent writes: the
// server rolled the transaction back, so running it again is safe.
const RETRYABLE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'FAMILY_SYNC_AUDIT_DRIFT'])

export async function withDeadlockRetry<T>(work: () => Promise<T>, attempts = 8): Promise<{ value: T; retries: number }> {
  for (let retries = 0; ; retries++) {
    try {
      return { value: await work(), retries }
    } catch (error) {
      const code = (error as { code?: string }).code
      if (!code || !RETRYABLE.has(code) || retries + 1 >= attempts) throw error
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** retries * Math.random()))
    }
  }
}
