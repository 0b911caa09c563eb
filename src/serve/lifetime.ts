/**
 * When a long-running command (serve, drain --watch) should stop: SIGINT or
 * SIGTERM, or the death of the process that started it. `npx family-sync
 * serve` runs under npm, which exits on SIGTERM without passing it on; the
 * orphan it would leave notices that its parent changed (it is re-parented to
 * init or a subreaper) within a second and stops as if signalled.
 */
export function stopWhenTold(options: { onStop?: (why: string) => void; pollMs?: number } = {}): { signal: AbortSignal; stop(why: string): void; dispose(): void } {
  const controller = new AbortController()
  const parent = process.ppid
  const stop = (why: string) => {
    if (controller.signal.aborted) return
    options.onStop?.(why)
    controller.abort(why)
  }
  const onSigint = () => stop('SIGINT')
  const onSigterm = () => stop('SIGTERM')
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigterm)
  const watch = setInterval(() => {
    if (process.ppid !== parent) stop(`its parent process ${parent} exited`)
  }, options.pollMs ?? 1000)
  watch.unref()
  return {
    signal: controller.signal,
    stop,
    dispose() {
      clearInterval(watch)
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigterm)
    },
  }
}
