/** The built demo in Chromium without WebGPU: auto picks WASM and says why; everything stays on the origin. */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_GOOD } from '../support/sources.ts';
import { appUrl, useBrowser, watchForeignRequests } from './support/browser.ts';
import { generateInDemo, generateThenStop, panelError } from './support/demo.ts';

describe('demo on WASM (no WebGPU adapter)', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  let foreign: string[];
  const cspViolations: string[] = [];

  beforeAll(async () => {
    page = await browser().newPage();
    foreign = watchForeignRequests(page);
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    const response = await page.goto(appUrl('?model=stories260k&dtype=fp32'));
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self' 'wasm-unsafe-eval'/);
    expect(response?.headers()['content-security-policy']).not.toMatch(/unsafe-eval'(?<!wasm-unsafe-eval')/);
  });

  it('streams exactly the known-good greedy text for fp32 through the UI', async () => {
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 64 });
    expect(run.output.startsWith(KNOWN_GOOD.text)).toBe(true);
    expect(run.updates).toBeGreaterThan(10); // it streamed, not one final paint
    expect(run.metrics).toMatch(/^WASM · fp32 · 1 thread · load \d+ ms · TTFT \d+ ms · prefill \d+ tok\/s · decode [\d.]+ tok\/s · 5 in \/ 64 out$/);
    expect(run.backendReason).toMatch(/WebGPU unavailable \(navigator\.gpu\.requestAdapter\(\) returned no adapter\); using WASM/);
  });

  it.each(['q8', 'q4'])('%s generates text and reports its dtype', async (dtype) => {
    await page.getByLabel('Weights').selectOption(dtype);
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 24 });
    expect(run.output.length).toBeGreaterThan(KNOWN_GOOD.prompt.length + 20);
    expect(run.metrics).toContain(`WASM · ${dtype} ·`);
  });

  it('Stop ends the stream, the text stops changing, and Generate works again', async () => {
    await generateThenStop(page);
    const stopped = await page.getByLabel('Output').textContent();
    await page.waitForTimeout(300);
    expect(await page.getByLabel('Output').textContent()).toBe(stopped);
    expect(await panelError(page, 'Generate')).toBe('');
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 16 });
    expect(KNOWN_GOOD.text.startsWith(run.output)).toBe(true);
  });

  it('made no request outside its own origin and hit no CSP violation', () => {
    expect(foreign).toEqual([]);
    expect(cspViolations).toEqual([]);
  });

  it('the Storage panel lists the cached model with its weights and size; Delete removes it after a confirmation', async () => {
    const row = page.getByRole('row').filter({ hasText: 'stories260k' });
    await expect.poll(() => row.count(), { timeout: 30_000 }).toBe(1);
    expect(await row.textContent()).toMatch(/^stories260kfp32, q8, q4[0-9a-f]{16}1\.\d\d MB/);
    expect(await page.getByLabel('Storage usage').textContent()).toMatch(/MB of models cached · site uses/);
    await page.getByRole('button', { name: 'Keep models when space runs low' }).click();
    await expect.poll(() => page.getByLabel('Persistence').textContent(), { timeout: 30_000 }).toMatch(/^The browser (granted|declined)/);
    await page.screenshot({ path: 'test-results/demo-storage.png', fullPage: true });
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: /^Delete stories260k/ }).click();
    await expect.poll(() => row.count(), { timeout: 30_000 }).toBe(0);
    expect(await page.getByLabel('Storage usage').textContent()).toMatch(/^0\.00 MB of models cached/);
  });

  it('looks like a finished page (screenshot for review)', async () => {
    await page.screenshot({ path: 'test-results/demo-wasm.png', fullPage: true });
    const box = await page.getByLabel('Output').boundingBox();
    expect(box!.width).toBeGreaterThan(500);
  });
});
