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
      { stream, format: '{label} [{bar}] {percentage}% | {value}/{total} rows | {detail}', hideCursor: true },
      cliProgress.Presets.shades_classic,
    )
  }
  start(total: number, label: string) {
    this.bar.start(total, 0, { label, detail: '' })
  }
  update(done: number, detail = '') {
    this.bar.update(done, { detail })
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
  constructor(private readonly stream: NodeJS.WriteStream, private readonly everyMs = 2000) {}
  start(total: number, label: string) {
    this.label = label
    this.total = total
    this.lastLine = Date.now()
    this.stream.write(`${label}: started, ${total} rows to visit\n`)
  }
  update(done: number, detail = '') {
    if (Date.now() - this.lastLine < this.everyMs) return
    this.lastLine = Date.now()
    const percent = this.total > 0 ? Math.floor((done / this.total) * 100) : 100
    this.stream.write(`${this.label}: ${percent}% (${done}/${this.total} rows)${detail ? ', ' + detail : ''}\n`)
  }
  stop(summary?: string) {
    this.stream.write(`${this.label}: done${summary ? ', ' + summary : ''}\n`)
  }
}
