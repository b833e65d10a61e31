import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 240_000,
    // Browser suites each start a server and a Chromium; run files one at a time on a 2-core machine.
    fileParallelism: false,
    globalSetup: ['tests/browser/setup.ts'],
    reporters: ['default', './tests/summary-reporter.ts'],
  },
});
