/** Builds the app (with the test harness page) once and serves it with `vite preview` for all browser suites. */
import type { TestProject } from 'vitest/node';
import { build, preview } from 'vite';

declare module 'vitest' {
  export interface ProvidedContext {
    previewUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Vitest sets NODE_ENV=test; the harness must be a production build like `npm run build`.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ mode: 'harness', logLevel: 'warn' });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  const server = await preview({ mode: 'harness', logLevel: 'warn', preview: { port: 0, host: '127.0.0.1' } });
  project.provide('previewUrl', server.resolvedUrls!.local[0]!);
  return async () => {
    await server.close();
  };
}
