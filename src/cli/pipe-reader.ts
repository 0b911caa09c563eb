import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

// A closed pipe shows only when something is written to it (EPIPE). A
// command that idles (drain --watch with nothing queued, piped into
// `head -1`) would never notice that its reader is gone. On Linux the pipe's
// other end can be seen in /proc: the processes holding the same pipe. Only
// readers visible when the command started are watched: one outside this PID
// namespace (a container runtime reading a container's stdout) is not
// visible at all, and then nothing is watched.

/** Whether a process's descriptor is open for reading only: the read end of a pipe (the write end is O_WRONLY). */
function readsOnly(pid: string, fd: string): boolean {
  const flags = /^flags:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))
  return flags !== null && (Number.parseInt(flags[1], 8) & 3) === 0
}

/** The processes among `pids` that hold the read end of `pipe`. */
function readers(pipe: string, pids: readonly string[]): string[] {
  return pids.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === pipe && readsOnly(pid, fd)
        } catch {
          return false
        }
      })
    } catch {
      return false
    }
  })
}

/** Calls `onGone` once every process that read this process's stdout pipe at start has let go of it. */
export function watchPipeReaders(onGone: () => void, everyMs = 1000): () => void {
  if (process.platform !== 'linux') return () => {}
  let pipe: string
  try {
    pipe = readlinkSync('/proc/self/fd/1')
  } catch {
    return () => {}
  }
  if (!pipe.startsWith('pipe:')) return () => {}
  const others = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
  let watched = readers(pipe, others)
  if (watched.length === 0) return () => {}
  const timer = setInterval(() => {
    watched = readers(pipe, watched)
    if (watched.length === 0) {
      clearInterval(timer)
      onGone()
    }
  }, everyMs)
  timer.unref()
  return () => clearInterval(timer)
}
