import type { Histogram, Registry } from 'prom-client'
import { addCheckMetrics, snapshotGauge, type CheckFigures } from '../check/prometheus.js'
import type { DrainOutcome } from './drain-log.js'
import type { ScanFigures } from './scanner.js'

// How fast children follow a family change: the report's "family creation
// success rate" is the share of changes applied within 1 s (le="1").
const DELAY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300]
const CHILDREN_BUCKETS = [0, 1, 2, 3, 4, 5, 10, 20, 50, 100, 1000]

export interface ServeMetrics {
  registry: Registry
  contentType: string
  /** Each entry a drain applied, failed or parked. */
  observe(outcome: DrainOutcome): void
  /** A scan finished: the children-per-family histogram is rebuilt from it, off the scrape path. */
  scanned(scan: ScanFigures): void
}

export interface MetricSources {
  /** The last scan of users, if one finished. */
  scan(): ScanFigures | undefined
  /** The queue and verify figures, refreshed when stale; called once per scrape. */
  live(): Promise<Pick<CheckFigures, 'queue' | 'verify'>>
  /** Whether the last read of the database succeeded. */
  up(): boolean
}

/**
 * serve's registry: check's metrics (mismatches from the last scan, the
 * queue and verify read at scrape time), the bug report's own (families,
 * children per family, how fast children follow), the drain's outcomes,
 * family_sync_up, and the scan's time and duration. A scrape reads only
 * family-sync's own tables and information_schema, never users.
 */
export async function createServeMetrics(sources: MetricSources): Promise<ServeMetrics> {
  const client = await import('prom-client')
  const registry = new client.Registry()
  // One scrape refreshes the live figures once, however many metrics read them.
  let pending: Promise<Pick<CheckFigures, 'queue' | 'verify'>> | undefined
  const live = () => (pending ??= sources.live().finally(() => setTimeout(() => (pending = undefined), 0)))
  addCheckMetrics(registry, async () => {
    const figures = await live().catch(() => ({}))
    return { check: sources.scan()?.check, ...figures }
  })

  snapshotGauge(registry, 'family_sync_up', '1 when the last read of the database succeeded, else 0.', async () => {
    await live().catch(() => undefined)
    return [{ value: sources.up() ? 1 : 0 }]
  })
  const fromScan = (read: (scan: ScanFigures) => number) => () => {
    const scan = sources.scan()
    return scan ? [{ value: read(scan) }] : []
  }
  snapshotGauge(registry, 'family_sync_families', 'Rows in families, as of the last scan.', fromScan((scan) => scan.families))
  snapshotGauge(registry, 'family_sync_last_scan_timestamp_seconds', 'When the last scan of users finished (Unix time); whole-table figures are as of then, and absent before the first.', fromScan((scan) => scan.at / 1000))
  snapshotGauge(registry, 'family_sync_scan_duration_seconds', 'How long the last scan of users took.', fromScan((scan) => scan.durationMs / 1000))
  const childrenPerFamily: Histogram = new client.Histogram({
    name: 'family_sync_children_per_family',
    help: 'Families by how many children (users with a parent) they have, as of the last scan.',
    buckets: CHILDREN_BUCKETS,
    registers: [registry],
  })
  const delay = new client.Histogram({
    name: 'family_sync_sync_delay_seconds',
    help: "Seconds from a parent's family change (queued) until its children had it (applied), every entry any drain applied since serve started.",
    buckets: DELAY_BUCKETS,
    registers: [registry],
  })
  const applied = new client.Counter({ name: 'family_sync_drain_applied_total', help: 'Queue entries any drain applied since serve started.', registers: [registry] })
  const failed = new client.Counter({ name: 'family_sync_drain_failed_total', help: 'Attempts to apply a queue entry that failed (a constraint of the application) since serve started.', registers: [registry] })
  const parked = new client.Counter({ name: 'family_sync_drain_parked_total', help: 'Queue entries parked after failing repeatedly since serve started.', registers: [registry] })

  return {
    registry,
    contentType: registry.contentType,
    scanned(scan) {
      // A snapshot of the table, not a count of events: rebuilt from each scan.
      childrenPerFamily.reset()
      for (const [children, families] of scan.familiesByChildren) for (let i = 0; i < families; i++) childrenPerFamily.observe(children)
    },
    observe(outcome) {
      if (outcome.outcome === 'applied') {
        applied.inc()
        if (outcome.delaySeconds !== null) delay.observe(outcome.delaySeconds)
      } else if (outcome.outcome === 'failed') failed.inc()
      else {
        failed.inc()
        parked.inc()
      }
    },
  }
}
