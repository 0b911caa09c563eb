import { spawn } from 'node:child_process'
import { CLI, log, SERVER } from './context.js'
import { fmtMs, median, percentile, type Figure } from './measure.js'
import { cpuSeconds, rssMiB } from './proc.js'

// family-sync serve left alone beside a database, as a sidecar lives: its
// own CPU and memory over BENCH_SERVE_SECONDS (default ten minutes), a scrape
// every five seconds, whole-table scans every minute, the drain polling.

const SECONDS = Number(process.env.BENCH_SERVE_SECONDS ?? 600)

export async function serveFigures(database: string): Promise<Figure[]> {
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--allow-privileged-account', '--url', `${SERVER}/${database}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  try {
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 30_000)
      child.stdout.on('data', () => {
        const m = /serving (http:\/\/[^/\s]+)\//.exec(output)
        if (m) {
          clearTimeout(timer)
          resolve(m[1])
        }
      })
    })
    const pid = child.pid!
    const scrapes: number[] = []
    const memory: number[] = []
    // The first minute is warm-up (first scan, first drain calls): CPU is counted after it.
    const warmup = Math.min(60, SECONDS / 5)
    await new Promise((resolve) => setTimeout(resolve, warmup * 1000))
    const cpuBefore = cpuSeconds(pid)
    const started = Date.now()
    for (let tick = 0; Date.now() - started < (SECONDS - warmup) * 1000; tick++) {
      const t0 = performance.now()
      const response = await fetch(`${base}/metrics`)
      await response.text()
      if (response.status !== 200) throw new Error(`a scrape answered ${response.status}`)
      scrapes.push(performance.now() - t0)
      if (tick % 2 === 0) memory.push(rssMiB(pid))
      await new Promise((resolve) => setTimeout(resolve, 5000))
    }
    const cpu = ((cpuSeconds(pid) - cpuBefore) / ((Date.now() - started) / 1000)) * 100
    const third = Math.max(1, Math.floor(memory.length / 3))
    const early = median(memory.slice(0, third))
    const late = median(memory.slice(-third))
    log(`serve for ${SECONDS} s on ${database}: CPU ${cpu.toFixed(2)}% of a core, RSS ${early.toFixed(1)} -> ${late.toFixed(1)} MiB, ${scrapes.length} scrapes p99 ${fmtMs(percentile(scrapes, 99))}`)
    return [
      { figure: `serve idle beside the database for ${SECONDS} s (drain polling, a scan a minute, a scrape every 5 s): its CPU`, baseline: '—', ours: `${cpu.toFixed(2)}% of a core`, ratio: '—', target: '<= 2% of a core', met: cpu <= 2 },
      { figure: 'serve memory over the same time (resident, first third vs last third)', baseline: `${early.toFixed(1)} MiB`, ours: `${late.toFixed(1)} MiB`, ratio: (late / early).toFixed(2), target: 'flat (<= 1.1)', met: late / early <= 1.1 },
      { figure: `serve scrape of /metrics (${scrapes.length} scrapes)`, baseline: '—', ours: `p99 ${fmtMs(percentile(scrapes, 99))} (median ${fmtMs(median(scrapes))})`, ratio: '—', target: 'p99 <= 100 ms', met: percentile(scrapes, 99) <= 100 },
    ]
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('close', resolve))
  }
}
