/** Debian Chromium driven by playwright-core, with or without the SwiftShader WebGPU adapter. */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, inject } from 'vitest';
import { launchChromium } from '../../../scripts/harness.ts';
import type { LoadOptions, ModelHandle, SlmClient } from '../../../src/index.ts';

export const launch = launchChromium;

export function appUrl(path = ''): string {
  return new URL(path, inject('previewUrl')).href;
}

/** Opens the test harness page (the public API as window.slm) in `on` and waits until it is ready. */
export async function openHarness(on: Browser | BrowserContext): Promise<Page> {
  const page = await on.newPage();
  await page.goto(appUrl('tests/browser/harness/index.html'));
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

/** Records requests leaving the app's origin (from the page and its workers). */
export function watchForeignRequests(page: Page): string[] {
  const foreign: string[] = [];
  const origin = new URL(appUrl()).origin;
  page.context().on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
  });
  return foreign;
}

/** The harness page's globals once useProfiles has loaded a model there. */
type HarnessWindow = { slm: typeof import('../../../src/index.ts'); client: SlmClient; model: ModelHandle };

/**
 * Fresh browser profiles (each its own IndexedDB) for the enclosing describe block, each with the harness
 * open and `model` loaded in a worker client as window.client and window.model; closed after its tests.
 */
export function useProfiles(browser: () => Browser): (model: string, options: LoadOptions) => Promise<Page> {
  const profiles: BrowserContext[] = [];
  afterAll(async () => {
    await Promise.all(profiles.map((p) => p.close()));
  });
  return async (model, options) => {
    const context = await browser().newContext();
    profiles.push(context);
    const page = await openHarness(context);
    await page.evaluate(
      async ({ model, options }) => {
        const w = window as unknown as HarnessWindow;
        w.client = await w.slm.SlmClient.inWorker();
        w.model = await w.client.load(model, options);
      },
      { model, options },
    );
    return page;
  };
}

/** One Chromium for the enclosing describe block: launched before its tests, closed after. */
export function useBrowser(options: { webgpu: boolean }): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launch(options);
  });
  afterAll(async () => browser?.close());
  return () => browser!;
}
