const MIN_ROWS = 1
const MAX_ROWS = 200_000

/**
 * The next batch's row count, from how long this batch's transaction held
 * its locks against the target. Batches aim at half the target, so a server
 * that slows down all of a sudden (other pods repairing, a checkpoint, the
 * application's peak) still keeps a batch under twice the target. A batch
 * that overshot shrinks in proportion at once; a quick one grows by a
 * quarter at most, so one fast moment is not turned into a long batch.
 */
export function nextBatchSize(size: number, heldMs: number, targetMs: number): number {
  const factor = Math.min(1.25, Math.max(0.1, targetMs / 2 / Math.max(heldMs, 1)))
  return Math.min(MAX_ROWS, Math.max(MIN_ROWS, Math.round(size * factor)))
}
