import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One MongoDB-protocol server for the whole run (MONGODB_URI, mongodb-memory-server or FerretDB).
    globalSetup: ['./test/helpers/global-setup.ts'],
    // One JSON report per run: `npm test` writes this one; `npm run test:contract-e2e` (only
    // test/contract and test/e2e) writes test-results/vitest-contract-e2e.json instead.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    pool: 'forks',
    // Modest parallelism: CI machines have 2 cores and the server shares them.
    poolOptions: { forks: { minForks: 1, maxForks: 2 } },
  },
});
