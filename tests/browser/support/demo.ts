/** Drives the demo page the way a person does: pick options, click, read what is on screen. */
import type { Page } from 'playwright-core';

export interface DemoRun {
  output: string;
  metrics: string;
  status: string;
  backendReason: string;
  /** How many times the output changed while streaming. */
  updates: number;
}

export async function generateInDemo(page: Page, options: { prompt?: string; maxTokens?: number } = {}): Promise<DemoRun> {
  if (options.prompt !== undefined) await page.getByLabel('Prompt').fill(options.prompt);
  if (options.maxTokens !== undefined) await page.getByLabel('Max new tokens').fill(String(options.maxTokens));
  await page.evaluate(() => {
    const w = window as unknown as { outputUpdates: number };
    w.outputUpdates = 0;
    new MutationObserver(() => w.outputUpdates++).observe(document.querySelector('[aria-label="Output"]')!, { childList: true, characterData: true, subtree: true });
    document.querySelector('#metrics')!.textContent = '';
  });
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForFunction(() => document.querySelector('#metrics')!.textContent || !(document.querySelector('#error') as HTMLElement).hidden, null, { timeout: 120_000 });
  const error = await page.locator('#error');
  if (await error.isVisible()) throw new Error(`the demo showed an error: ${await error.textContent()}`);
  return {
    output: (await page.getByLabel('Output').textContent()) ?? '',
    metrics: (await page.getByLabel('Metrics').textContent()) ?? '',
    status: (await page.getByRole('status').textContent()) ?? '',
    backendReason: (await page.getByRole('status').getAttribute('title')) ?? '',
    updates: await page.evaluate(() => (window as unknown as { outputUpdates: number }).outputUpdates),
  };
}
