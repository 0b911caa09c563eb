import type { Metric, Registry } from 'prom-client'
import type { ConsistencyReport, QueueStatus } from './consistency.js'
import type { VerifyReport } from '../verify/verify.js'

/** What check's metrics are computed from; serve keeps each part fresh on its own schedule. */
export interface CheckFigures {
  /** The whole-table figures of a check (mismatches and what follows from them). */
  check?: Pick<ConsistencyReport, 'ok' | 'mismatchCount' | 'pendingCount' | 'descendantCount'>
  queue?: QueueStatus
  verify?: VerifyReport | null
}

export interface Sample {
  labels?: Record<string, string>
  value: number
}

/**
 * A gauge read when scraped: no samples means the metric is absent (only its
 * HELP and TYPE lines), which is what a figure not known yet should be, so
 * that absent() can alert on it and 0 is never claimed for it.
 */
export function snapshotGauge(registry: Registry, name: string, help: string, read: () => Sample[] | Promise<Sample[]>): void {
  const metric = {
    name,
    help,
    type: 'gauge',
    aggregator: 'sum',
    async get() {
      const values = (await read()).map((sample) => ({ value: sample.value, labels: sample.labels ?? {} }))
      return { name, help, type: 'gauge', aggregator: 'sum', values }
    },
    reset() {},
  }
  registry.registerMetric(metric as unknown as Metric)
}

const one = (value: number | undefined): Sample[] => (value === undefined ? [] : [{ value }])

/** check's metrics on `registry`, each computed when scraped from what `figures()` holds then. */
export function addCheckMetrics(registry: Registry, figures: () => CheckFigures | Promise<CheckFigures>): void {
  const gauge = (name: string, help: string, read: (f: CheckFigures) => Sample[]) => snapshotGauge(registry, name, help, async () => read(await figures()))
  gauge('family_sync_mismatches', "Children whose family_id differs from their parent's family.", (f) => one(f.check?.mismatchCount))
  gauge('family_sync_mismatches_pending', 'Mismatches that queued work will fix.', (f) => one(f.check?.pendingCount))
  gauge('family_sync_mismatch_descendants', 'Rows below a mismatched child whose family changes once it is settled.', (f) => one(f.check?.descendantCount))
  gauge('family_sync_queue_pending', 'Entries waiting in family_sync_queue (parked ones not counted).', (f) => one(f.queue?.pending))
  gauge('family_sync_queue_oldest_age_seconds', 'Age of the oldest waiting queue entry, 0 when none waits.', (f) => one(f.queue && (f.queue.oldestAgeSeconds ?? 0)))
  gauge('family_sync_queue_parked', 'Queue entries parked after failing repeatedly; family-sync drain --retry-parked tries them again now.', (f) => one(f.queue?.parked.length))
  // Absent while no drain ever ran: absent() alerts on it, and 0 would read as "just now".
  gauge('family_sync_drain_last_run_age_seconds', 'Seconds since any server last recorded a drain run (a running drain records itself at least once a minute).', (f) =>
    one(f.queue?.lastDrainAgeSeconds ?? undefined),
  )
  gauge('family_sync_ok', '1 when check passes, else 0.', (f) => one(f.check && (f.check.ok && !(f.queue?.parked.length ?? 0) ? 1 : 0)))
  gauge('family_sync_object_present', 'Whether a stored object of family-sync exists.', (f) =>
    (f.verify?.objects ?? []).map((o) => ({ labels: { name: o.name, kind: o.kind }, value: o.present ? 1 : 0 })),
  )
  gauge('family_sync_object_up_to_date', 'Whether a stored object matches its file in triggers/.', (f) =>
    (f.verify?.objects ?? []).map((o) => ({ labels: { name: o.name, kind: o.kind }, value: o.upToDate ? 1 : 0 })),
  )
  gauge('family_sync_event_scheduler_on', '1 when the server event scheduler is ON.', (f) => one(f.verify ? (f.verify.eventScheduler === 'ON' ? 1 : 0) : undefined))
  gauge('family_sync_verify_problems', 'Problems family-sync verify reports.', (f) => one(f.verify?.problems.length))
}

/** check's metrics in the Prometheus text format, for a textfile collector or a scrape. prom-client is loaded here, on first use. */
export async function toPrometheus(check: ConsistencyReport, verify: VerifyReport | null): Promise<string> {
  const { Registry } = await import('prom-client')
  const registry = new Registry()
  addCheckMetrics(registry, () => ({ check, queue: check.queue, verify }))
  return registry.metrics()
}
