import type { Migration } from '../src/migrator/steps.js'
import { migration as preflight } from './0001_preflight.js'
import { migration as syncTables } from './0002_create_sync_tables.js'
import { migration as triggers } from './0003_install_triggers.js'
import { migration as drainProcedure } from './0004_install_drain_procedure.js'
import { migration as drainEvent } from './0005_install_drain_event.js'
import { migration as backfill } from './0006_backfill_family_ids.js'
import { migration as queueRetries } from './0007_queue_retries_and_liveness.js'
import { migration as ownersAndVersions } from './0008_record_owners_and_versions.js'
import { migration as drainLog } from './0009_create_drain_log.js'

// Listed, not globbed: the same list works from source (tests) and from the
// compiled package, whatever the file extension.
export const migrations: readonly Migration[] = [preflight, syncTables, triggers, drainProcedure, drainEvent, backfill, queueRetries, ownersAndVersions, drainLog]

export const MIGRATION_NAMES: readonly string[] = migrations.map((m) => m.name)
