/** Shared by browser tests and the benchmark: Debian Chromium via playwright-core, and the built harness served by `vite preview`. */
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { build, preview } from 'vite';

const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan', '--disable-vulkan-surface'];

export function launchChromium(options: { webgpu: boolean }): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...BASE_ARGS, ...(options.webgpu ? WEBGPU_ARGS : [])],
  });
}

/** Builds the app with the test and bench pages (a production build) and serves it; returns its URL. */
export async function startHarnessServer(): Promise<{ url: string; close(): Promise<void> }> {
  const nodeEnv = process.env.NODE_ENV; // Vitest sets "test"; this must be a production build like `npm run build`
  process.env.NODE_ENV = 'production';
  try {
    await build({ mode: 'harness', logLevel: 'warn' });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  const server = await preview({ mode: 'harness', logLevel: 'warn', preview: { port: 0, host: '127.0.0.1' } });
  return { url: server.resolvedUrls!.local[0]!, close: () => server.close() };
}

/**
 * Serves pages matching `pattern` without their Content-Security-Policy header. Only for pages that run
 * wllama, which starts its workers from blob: URLs that the app's strict CSP (worker-src 'self') forbids.
 */
export async function withoutCsp(context: BrowserContext, pattern: string): Promise<void> {
  await context.route(pattern, async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['content-security-policy'];
    await route.fulfill({ response, headers });
  });
}
