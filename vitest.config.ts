import { defineConfig } from 'vitest/config'

// Two tiers. `unit` needs no server and runs in seconds; `server` talks to the
// real MySQL/MariaDB named by TEST_DATABASE_URL (or one testcontainers starts),
// each file in its own database, files in parallel on the one server.
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
      {
        test: {
          name: 'server',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          globalSetup: ['test/helpers/global-setup.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 180_000,
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
    ],
  },
})
