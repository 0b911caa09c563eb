// Timing helpers: medians of repeated runs, so a noisy machine shows as spread, not as a verdict.

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = process.hrtime.bigint()
  const value = await work()
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value }
}

export interface Figure {
  figure: string
  baseline: string
  ours: string
  ratio: string
  target: string
  met: boolean
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`
}

export function markdownTable(figures: Figure[]): string {
  const lines = ['| figure | baseline (same run) | ours | ratio | target | met |', '|---|---|---|---|---|---|']
  for (const f of figures) lines.push(`| ${f.figure} | ${f.baseline} | ${f.ours} | ${f.ratio} | ${f.target} | ${f.met ? 'yes' : '**no**'} |`)
  return lines.join('\n')
}
