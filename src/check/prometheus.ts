import { Gauge, Registry } from 'prom-client'
import type { ConsistencyReport } from './consistency.js'
import type { VerifyReport } from '../verify/verify.js'

/** SPEC §6's metrics in the Prometheus text format, for a textfile collector or a scrape. */
export async function toPrometheus(check: ConsistencyReport, verify: VerifyReport | null): Promise<string> {
  const registry = new Registry()
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] })

  gauge('family_sync_mismatches', 'Children whose family_id differs from their parent family (SPEC section 2).').set(check.mismatchCount)
  gauge('family_sync_mismatches_pending', 'Mismatches that queued work will fix.').set(check.pendingCount)
  gauge('family_sync_queue_pending', 'Entries waiting in family_sync_queue.').set(check.queue.pending)
  gauge('family_sync_queue_oldest_age_seconds', 'Age of the oldest queue entry, 0 when the queue is empty.').set(check.queue.oldestAgeSeconds ?? 0)
  gauge('family_sync_ok', '1 when check passes, else 0.').set(check.ok ? 1 : 0)
  if (verify) {
    const present = gauge('family_sync_object_present', 'Whether a stored object of family-sync exists.', ['name', 'kind'])
    const upToDate = gauge('family_sync_object_up_to_date', 'Whether a stored object matches its file in triggers/.', ['name', 'kind'])
    for (const object of verify.objects) {
      present.set({ name: object.name, kind: object.kind }, object.present ? 1 : 0)
      upToDate.set({ name: object.name, kind: object.kind }, object.upToDate ? 1 : 0)
    }
    gauge('family_sync_event_scheduler_on', '1 when the server event scheduler is ON.').set(verify.eventScheduler === 'ON' ? 1 : 0)
  }
  return registry.metrics()
}
