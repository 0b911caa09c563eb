import parsePrometheus from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { toPrometheus } from '../../src/check/prometheus.js'
import type { ConsistencyReport } from '../../src/check/consistency.js'
import { capabilitiesOf } from '../../src/db/capabilities.js'
import type { ServerInfo } from '../../src/db/introspect.js'
import { installRequirements, mayCreateTriggersWithBinlog, maySetDefiner } from '../../src/db/privileges.js'
import { strategyFor } from '../../src/migrator/replace.js'

const MYSQL = capabilitiesOf('9.7.4-2')

const server = (over: Partial<ServerInfo>): ServerInfo => ({
  capabilities: capabilitiesOf('10.11.19-MariaDB'), version: '10.11.19-MariaDB', database: 'app', currentUser: 'deploy@%',
  logBin: false, binlogFormat: 'MIXED', trustFunctionCreators: false, eventScheduler: 'ON', readOnly: false, galera: false, node: 'h:3306', ...over,
})

describe('error 1419 rule', () => {
  it('binary logging or Galera without trust needs SUPER on MariaDB and MySQL 8.2+; SUPER or SET_USER_ID on MySQL 8.0', () => {
    expect(mayCreateTriggersWithBinlog(server({}), new Set())).toBe(true)
    expect(mayCreateTriggersWithBinlog(server({ logBin: true }), new Set())).toBe(false)
    expect(mayCreateTriggersWithBinlog(server({ galera: true }), new Set())).toBe(false)
    expect(mayCreateTriggersWithBinlog(server({ logBin: true }), new Set(['SUPER']))).toBe(true)
    expect(mayCreateTriggersWithBinlog(server({ logBin: true, trustFunctionCreators: true }), new Set())).toBe(true)
    expect(mayCreateTriggersWithBinlog(server({ logBin: true }), new Set(['SET_USER_ID']))).toBe(false)
    expect(mayCreateTriggersWithBinlog(server({ capabilities: MYSQL, logBin: true }), new Set(['SUPER']))).toBe(true)
    // MySQL 9.7 refuses CREATE TRIGGER with SET_ANY_DEFINER alone (run, not read).
    expect(mayCreateTriggersWithBinlog(server({ capabilities: MYSQL, logBin: true }), new Set(['SET_ANY_DEFINER']))).toBe(false)
    const mysql80 = capabilitiesOf('8.0.40')
    for (const p of ['SUPER', 'SET_USER_ID']) expect(mayCreateTriggersWithBinlog(server({ capabilities: mysql80, logBin: true }), new Set([p]))).toBe(true)
  })

  it('definers: SET USER on MariaDB, SET_USER_ID or SET_ANY_DEFINER on MySQL', () => {
    expect(maySetDefiner(server({}), new Set(['SET USER']))).toBe(true)
    expect(maySetDefiner(server({ capabilities: MYSQL }), new Set(['SET_ANY_DEFINER']))).toBe(true)
    expect(maySetDefiner(server({}), new Set(['TRIGGER']))).toBe(false)
  })

  it('LOCK TABLES is required on MySQL only, where triggers are replaced under it', () => {
    expect(installRequirements(server({})).map((r) => r.privilege)).not.toContain('LOCK TABLES')
    expect(installRequirements(server({ capabilities: MYSQL })).map((r) => r.privilege)).toContain('LOCK TABLES')
    expect(installRequirements(server({ capabilities: MYSQL, galera: true })).map((r) => r.privilege)).not.toContain('LOCK TABLES')
  })
})

describe('replacement strategy', () => {
  it('CREATE OR REPLACE on MariaDB, LOCK TABLES for MySQL triggers, DROP+CREATE for the rest and for Galera on MySQL', () => {
    expect(strategyFor(server({}), 'trigger', true)).toBe('create-or-replace')
    expect(strategyFor(server({ capabilities: MYSQL }), 'trigger', true)).toBe('lock-tables')
    expect(strategyFor(server({ capabilities: MYSQL, galera: true }), 'trigger', true)).toBe('drop-create')
    expect(strategyFor(server({ capabilities: MYSQL }), 'procedure', true)).toBe('drop-create')
    expect(strategyFor(server({ capabilities: MYSQL }), 'trigger', false)).toBe('create')
    expect(strategyFor(undefined, 'event', true)).toBe('create')
  })
})

describe('toPrometheus', () => {
  it('renders the metrics a real parser reads; the drain age is absent while no drain ever ran', async () => {
    const report: ConsistencyReport = {
      ok: false, mismatchCount: 3, pendingCount: 1, descendantCount: 7, mismatches: [], familyId: null, problems: ['x'],
      queue: { pending: 2, oldestAgeSeconds: 12.5, parked: [{ id: 7, parentId: 9, attempts: 5, lastError: 'error 1062' }], lastDrainAgeSeconds: null, drainExpected: true, drainRunning: null },
    }
    const text = await toPrometheus(report, null)
    const families = parsePrometheus(text) as Array<{ name: string; metrics: Array<{ value: string }> }>
    const value = (name: string) => families.find((f) => f.name === name)?.metrics[0]?.value
    expect(value('family_sync_mismatches')).toBe('3')
    expect(value('family_sync_queue_parked')).toBe('1')
    expect(value('family_sync_mismatches_pending')).toBe('1')
    expect(value('family_sync_mismatch_descendants')).toBe('7')
    expect(value('family_sync_queue_oldest_age_seconds')).toBe('12.5')
    expect(value('family_sync_drain_last_run_age_seconds')).toBeUndefined()
    expect(value('family_sync_ok')).toBe('0')
  })
})
