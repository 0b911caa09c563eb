import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { packageRoot } from '../../src/paths.js'
import { describeWhen } from '../helpers/requires.js'

// monitoring/: every alert has a promtool unit test, and they pass. promtool
// comes with Debian's prometheus package; .ci/run puts it on PATH.
const PROMTOOL = [process.env.PROMTOOL, '/usr/local/bin/promtool', '/usr/bin/promtool'].find((p) => p && existsSync(p))
const dir = join(packageRoot(), 'monitoring')

describeWhen(PROMTOOL, 'needs promtool (Debian: apt-get download prometheus, then dpkg -x and copy usr/bin/promtool; or set PROMTOOL)')('monitoring/ rules', () => {
  it('promtool checks the rules and runs their unit tests', () => {
    const check = spawnSync(PROMTOOL!, ['check', 'rules', 'family-sync.rules.yml'], { cwd: dir, encoding: 'utf8' })
    expect(check.status, check.stdout + check.stderr).toBe(0)
    const test = spawnSync(PROMTOOL!, ['test', 'rules', 'family-sync.rules.test.yml'], { cwd: dir, encoding: 'utf8' })
    expect(test.status, test.stdout + test.stderr).toBe(0)
    expect(test.stdout).toContain('SUCCESS')
  })

  it('every alert has a unit test and a runbook line in the README', () => {
    const rules = readFileSync(join(dir, 'family-sync.rules.yml'), 'utf8')
    const tests = readFileSync(join(dir, 'family-sync.rules.test.yml'), 'utf8')
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8')
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1])
    expect(alerts.length).toBeGreaterThanOrEqual(6)
    for (const alert of alerts) {
      expect(tests, alert).toContain(`alertname: ${alert}`)
      expect(readme, alert).toMatch(new RegExp(`\\| \`${alert}\` \\|`))
    }
  })
})

if (!PROMTOOL) console.log('monitoring/ rules not tested: no promtool on this machine (Debian package prometheus; .ci/run installs it)')
