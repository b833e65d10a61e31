/** The demo fits a phone: no sideways scrolling at 390 px after a load, a generation and a training run. */
import { describe, expect, it } from 'vitest';
import { useBrowser } from './support/browser.ts';
import { generateInDemo, openDemo } from './support/demo.ts';

describe('demo layout', () => {
  const browser = useBrowser({ webgpu: false });

  it.each([
    [390, 844],
    [1280, 900],
  ])('at %i×%i the page is no wider than the window after a load, a generation and a training run', async (width, height) => {
    const page = await openDemo(browser(), '?model=stories260k&dtype=fp32', { width, height });
    await generateInDemo(page, { maxTokens: 64 });
    await page.getByRole('button', { name: 'Train' }).click();
    await expect.poll(() => page.getByLabel('Training report').textContent(), { timeout: 60_000 }).toMatch(/^Held-out accuracy/);
    await page.screenshot({ path: `test-results/demo-${width}.png`, fullPage: true });
    const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
    expect(scrollWidth).toBe(clientWidth);
    await page.close();
  });
});
