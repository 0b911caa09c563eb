import { defineConfig } from 'vitest/config'
import { selectedKinds } from './test/helpers/server-builds.js'

// Tiers. `unit` needs no server and runs in seconds. Then the server tier once
// per server (FAMILY_SYNC_TEST_SERVERS picks some; all by default): this
// machine's (TEST_DATABASE_URL), MariaDB 11.8 and MySQL 9.7 from Debian
// chroots. Each file gets its own database; files run in parallel on one
// server, and one server after the other, so a failure names its server
// (server:<kind>) and servers never compete for the two cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // The unit tier runs first: a broken lexer fails in seconds, not after the server tests.
          sequence: { groupOrder: 0 },
        },
      },
      ...selectedKinds().map((kind, i) => ({
        test: {
          name: `server:${kind}`,
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          globalSetup: ['test/helpers/global-setup.ts'],
          sequence: { groupOrder: i + 1 },
          testTimeout: 60_000,
          hookTimeout: 300_000,
          fileParallelism: true,
          maxWorkers: 2,
        },
      })),
    ],
  },
})
