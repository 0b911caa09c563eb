/** Where a long operation tells what it does: the CLI prints it, the library is quiet unless asked. */
export interface Reporter {
  info(line: string): void
  warn(line: string): void
}

export const quietReporter: Reporter = { info() {}, warn() {} }
