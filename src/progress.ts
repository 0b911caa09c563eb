import { createRequire } from 'node:module'
import type cliProgressTypes from 'cli-progress'

/** Progress of long work: a bar on a terminal, plain lines elsewhere (CI logs). */
export interface Progress {
  start(total: number, label: string): void
  update(done: number, detail?: string): void
  stop(summary?: string): void
}

export const silentProgress: Progress = { start() {}, update() {}, stop() {} }

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  return stream.isTTY ? new BarProgress(stream) : new LineProgress(stream)
}

// Loaded only when a bar is drawn: commands that print no progress start faster.
const load = () => createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes

class BarProgress implements Progress {
  private bar: cliProgressTypes.SingleBar
  constructor(stream: NodeJS.WriteStream) {
    const cliProgress = load()
    this.bar = new cliProgress.SingleBar(
      { stream, format: '{label} [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted} | {detail}', hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    )
  }
  private started = 0
  start(total: number, label: string) {
    this.started = Date.now()
    this.bar.start(total, 0, { label, detail: '', rate: 0 })
  }
  update(done: number, detail = '') {
    this.bar.update(done, { detail, rate: rateOf(done, this.started) })
  }
  stop(summary?: string) {
    this.bar.stop()
    if (summary) process.stderr.write(summary + '\n')
  }
}

// Without a terminal a bar would fill the log with carriage returns; one line
// every few seconds says the same.
class LineProgress implements Progress {
  private label = ''
  private total = 0
  private lastLine = 0
  private started = 0
  constructor(private readonly stream: NodeJS.WriteStream, private readonly everyMs = 2000) {}
  start(total: number, label: string) {
    this.label = label
    this.total = total
    this.started = this.lastLine = Date.now()
    this.stream.write(`${label}: started, ${total} rows to visit\n`)
  }
  update(done: number, detail = '') {
    if (Date.now() - this.lastLine < this.everyMs) return
    this.lastLine = Date.now()
    const percent = this.total > 0 ? Math.floor((done / this.total) * 100) : 100
    const rate = rateOf(done, this.started)
    const eta = rate > 0 && this.total > done ? `, about ${formatSeconds((this.total - done) / rate)} left` : ''
    this.stream.write(`${this.label}: ${percent}% (${done}/${this.total} rows, ${rate} rows/s${eta})${detail ? ', ' + detail : ''}\n`)
  }
  stop(summary?: string) {
    this.stream.write(`${this.label}: done${summary ? ', ' + summary : ''}\n`)
  }
}

/** Rows per second since the start, whole. */
function rateOf(done: number, started: number): number {
  const seconds = (Date.now() - started) / 1000
  return seconds > 0 ? Math.round(done / seconds) : 0
}

export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}
