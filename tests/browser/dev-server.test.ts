/** `npm run dev` serves a working demo too (ORT files from the dev middleware, isolation headers on). */
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_GOOD } from '../support/sources.ts';
import { useBrowser } from './support/browser.ts';
import { generateInDemo } from './support/demo.ts';

describe('dev server smoke test', () => {
  let server: ViteDevServer;
  const browser = useBrowser({ webgpu: false });
  beforeAll(async () => {
    server = await createServer({ logLevel: 'warn', server: { port: 0, host: '127.0.0.1' } });
    await server.listen();
  });
  afterAll(async () => server?.close());

  it('generates the reference text with the page cross-origin isolated', async () => {
    const page = await browser().newPage();
    await page.goto(`${server.resolvedUrls!.local[0]}?model=stories260k&dtype=fp32`);
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 20 });
    expect(KNOWN_GOOD.text.startsWith(run.output)).toBe(true);
    expect(run.output.length).toBeGreaterThan(KNOWN_GOOD.prompt.length + 40);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  });
});
