import type { ConsistencyReport } from './consistency.js'
import type { VerifyReport } from '../verify/verify.js'

/**
 * check's metrics in the Prometheus text format, for a textfile collector or
 * a scrape. prom-client is loaded here, on first use, not at import.
 */
export async function toPrometheus(check: ConsistencyReport, verify: VerifyReport | null): Promise<string> {
  const { Gauge, Registry } = await import('prom-client')
  const registry = new Registry()
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] })

  gauge('family_sync_mismatches', "Children whose family_id differs from their parent's family.").set(check.mismatchCount)
  gauge('family_sync_mismatches_pending', 'Mismatches that queued work will fix.').set(check.pendingCount)
  gauge('family_sync_mismatch_descendants', 'Rows below a mismatched child whose family changes once it is settled.').set(check.descendantCount)
  gauge('family_sync_queue_pending', 'Entries waiting in family_sync_queue (parked ones not counted).').set(check.queue.pending)
  gauge('family_sync_queue_oldest_age_seconds', 'Age of the oldest waiting queue entry, 0 when none waits.').set(check.queue.oldestAgeSeconds ?? 0)
  gauge('family_sync_queue_parked', 'Queue entries parked after failing repeatedly; family-sync drain --retry-parked tries them again.').set(check.queue.parked.length)
  // Absent, not 0, while no drain ever ran: absent() alerts on it, and 0 would read as "just now".
  if (check.queue.lastDrainAgeSeconds !== null) gauge('family_sync_drain_last_run_age_seconds', 'Seconds since any server last ran the drain.').set(check.queue.lastDrainAgeSeconds)
  gauge('family_sync_ok', '1 when check passes, else 0.').set(check.ok ? 1 : 0)
  if (verify) {
    const present = gauge('family_sync_object_present', 'Whether a stored object of family-sync exists.', ['name', 'kind'])
    const upToDate = gauge('family_sync_object_up_to_date', 'Whether a stored object matches its file in triggers/.', ['name', 'kind'])
    for (const object of verify.objects) {
      present.set({ name: object.name, kind: object.kind }, object.present ? 1 : 0)
      upToDate.set({ name: object.name, kind: object.kind }, object.upToDate ? 1 : 0)
    }
    gauge('family_sync_event_scheduler_on', '1 when the server event scheduler is ON.').set(verify.eventScheduler === 'ON' ? 1 : 0)
    gauge('family_sync_verify_problems', 'Problems family-sync verify reports.').set(verify.problems.length)
  }
  return registry.metrics()
}
