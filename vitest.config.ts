import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

const isPackageTest = (spec: TestSpecification): boolean => spec.moduleId.includes('/tests/package/');

/**
 * The packaged-app tests first: alone they pass in about 20 s, but twice, late in a full run, the packaged
 * app's generation never finished (cause not found yet; see the closing note of that session).
 */
class PackageTestsFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted.filter(isPackageTest), ...sorted.filter((f) => !isPackageTest(f))];
  }
}

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 240_000,
    // Browser suites each start a server and a Chromium; run files one at a time on a 2-core machine.
    fileParallelism: false,
    sequence: { sequencer: PackageTestsFirst },
    globalSetup: ['tests/browser/setup.ts'],
    reporters: ['default', './tests/summary-reporter.ts'],
  },
});
