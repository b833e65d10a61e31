/** After one online visit, the built demo reloads and generates with the network cut (service worker + IndexedDB). */
import { describe, expect, it } from 'vitest';
import { KNOWN_GOOD } from '../support/sources.ts';
import { appUrl, useBrowser } from './support/browser.ts';
import { generateInDemo } from './support/demo.ts';

describe('demo offline after the first visit', () => {
  const browser = useBrowser({ webgpu: false });

  it('reloads with context.setOffline(true) and still streams the reference text', async () => {
    const context = await browser().newContext();
    const page = await context.newPage();
    await page.goto(appUrl('?model=stories260k&dtype=fp32'));
    // The service worker has precached the shell once it is active and controls the page.
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
    });
    const online = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 12 });
    expect(KNOWN_GOOD.text.startsWith(online.output)).toBe(true);

    await context.setOffline(true);
    await page.reload();
    // Offline the picker comes from the cache, and says that this choice loads from it.
    await expect.poll(() => page.getByLabel('Cache').textContent(), { timeout: 30_000 }).toBe('cached — loads offline');
    const offline = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 24 });
    expect(KNOWN_GOOD.text.startsWith(offline.output)).toBe(true);
    expect(offline.output.length).toBeGreaterThan(KNOWN_GOOD.prompt.length + 40);
    expect(offline.metrics).toMatch(/^WASM · fp32 ·/);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await context.close();
  });
});
