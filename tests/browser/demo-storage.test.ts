/** The demo's cache and storage: the cached badge, confirmations before deleting, the browser's answer to persistence. */
import { readFileSync } from 'node:fs';
import type { BrowserContext, Dialog, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from './support/browser.ts';
import { loadInDemo, openDemo, panel } from './support/demo.ts';

const manifest = JSON.parse(readFileSync('public/models/stories260k/manifest.json', 'utf8')) as {
  dtypes: Record<string, { file: string }>;
  files: Record<string, { bytes: number }>;
};
const weightsMb = (dtype: string): string => `${(manifest.files[manifest.dtypes[dtype]!.file]!.bytes / 1e6).toFixed(2)} MB`;

/** Chunks of model files in the demo's IndexedDB weight cache, read directly. */
function storedChunks(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('browser-slm');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const count = open.result.transaction('chunks').objectStore('chunks').count();
          count.onerror = () => reject(count.error);
          count.onsuccess = () => resolve(count.result);
        };
      }),
  );
}

describe('demo storage', () => {
  const browser = useBrowser({ webgpu: false });
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    context = await browser().newContext();
    page = await openDemo(context, '?model=stories260k&dtype=q4');
  });

  const rows = (): ReturnType<Page['getByRole']> => panel(page, 'Storage').getByRole('row').filter({ hasText: 'stories260k' });
  const answer = (dialog: (d: Dialog) => Promise<void>): Promise<string> =>
    new Promise((resolve) => page.once('dialog', (d) => void dialog(d).then(() => resolve(d.message()))));

  it('the picker says how big each choice of weights is and that it is not cached yet', async () => {
    expect(await page.getByLabel('Cache').textContent()).toBe(`not cached — downloads ${weightsMb('q4')} on first load`);
    const options = await page.getByLabel('Weights').locator('option').allTextContents();
    expect(options).toEqual(['Auto (q4f16 on WebGPU with shader-f16, else q4)', `4-bit (q4) · ${weightsMb('q4')}`, `8-bit (q8) · ${weightsMb('q8')}`, `float32 (fp32) · ${weightsMb('fp32')}`, '4-bit, float16 (q4f16, WebGPU with shader-f16)']);
  });

  it('after a reload the picker says the loaded weights are cached and load offline, and only those', async () => {
    await loadInDemo(page);
    await page.reload();
    await page.waitForSelector('#load:not([disabled])');
    await expect.poll(() => page.getByLabel('Cache').textContent(), { timeout: 30_000 }).toBe('cached — loads offline');
    await page.getByLabel('Weights').selectOption('fp32');
    expect(await page.getByLabel('Cache').textContent()).toBe(`not cached — downloads ${weightsMb('fp32')} on first load`);
    await page.getByLabel('Weights').selectOption('q4');
  });

  it('Clear all asks first, and dismissing it keeps every cached model', async () => {
    await expect.poll(() => rows().count(), { timeout: 30_000 }).toBe(1);
    const chunks = await storedChunks(page);
    expect(chunks).toBeGreaterThan(0);
    const message = answer((d) => d.dismiss());
    await page.getByRole('button', { name: 'Clear all' }).click();
    expect(await message).toMatch(/^Delete all 1 cached model \(0\.\d\d MB\) from this browser\?/);
    expect(await rows().count()).toBe(1);
    expect(await storedChunks(page)).toBe(chunks);
  });

  it('accepting Clear all deletes every cached model', async () => {
    const message = answer((d) => d.accept());
    await page.getByRole('button', { name: 'Clear all' }).click();
    await message;
    await expect.poll(() => rows().count(), { timeout: 30_000 }).toBe(0);
    expect(await storedChunks(page)).toBe(0);
    expect(await page.getByLabel('Cache').textContent()).toMatch(/^not cached/);
  });

  it("the persistence request reports the browser's answer", async () => {
    await page.getByRole('button', { name: 'Keep models when space runs low' }).click();
    const granted = await page.evaluate(() => navigator.storage.persisted());
    await expect
      .poll(() => page.getByLabel('Persistence').textContent())
      .toBe(granted ? 'The browser granted persistent storage: models stay when space runs low.' : 'The browser declined: models may still be evicted when space runs low.');
  });
});
