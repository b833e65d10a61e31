/** Builds the app (with the test harness page) once and serves it with `vite preview` for all browser suites. */
import type { TestProject } from 'vitest/node';
import { startHarnessServer } from '../../scripts/harness.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    previewUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startHarnessServer();
  project.provide('previewUrl', server.url);
  return () => server.close();
}
