/** Drives the demo page the way a person does: pick options, click, read what is on screen. */
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { appUrl } from './browser.ts';

export interface DemoRun {
  output: string;
  finish: string;
  metrics: string;
  status: string;
  backendReason: string;
  /** How many times the output changed while streaming. */
  updates: number;
}

/** Opens the demo (query: `?dtype=…&device=…`) in `on` and waits until its controls are live. */
export async function openDemo(on: Browser | BrowserContext, query = '', viewport?: { width: number; height: number }): Promise<Page> {
  const page = await on.newPage(viewport && { viewport });
  await page.goto(appUrl(query));
  await page.waitForSelector('#load:not([disabled])');
  return page;
}

/** A panel of the demo by its heading: Model, Generate, Chat, Extract JSON, Skills, Teach, Storage. */
export function panel(page: Page, name: string): Locator {
  return page.getByRole('region', { name, exact: true });
}

/** The error shown in a panel ('' when it shows none). */
export async function panelError(page: Page, name: string): Promise<string> {
  const alert = panel(page, name).getByRole('alert');
  return (await alert.count()) ? ((await alert.textContent()) ?? '') : '';
}

/** Clicks Load and waits (up to `timeout` ms: large models load slowly) for the model panel to say Ready (or fail with its error). */
export async function loadInDemo(page: Page, timeout = 60_000): Promise<string> {
  await page.getByRole('button', { name: 'Load' }).click();
  const settled = async (): Promise<boolean> => /^Ready/.test((await page.getByRole('status').textContent()) ?? '') || (await panelError(page, 'Model')) !== '';
  await expect.poll(settled, { timeout }).toBe(true);
  const error = await panelError(page, 'Model');
  if (error) throw new Error(`the demo could not load: ${error}`);
  return (await page.getByRole('status').textContent()) ?? '';
}

/** Clicks Generate and waits until the run has ended (its end is shown) or the Generate panel shows an error. */
export async function generateInDemo(page: Page, options: { prompt?: string; maxTokens?: number } = {}): Promise<DemoRun> {
  if (options.prompt !== undefined) await page.getByLabel('Prompt').fill(options.prompt);
  if (options.maxTokens !== undefined) await page.getByLabel('Max new tokens').fill(String(options.maxTokens));
  await page.evaluate(() => {
    const w = window as unknown as { outputUpdates: number };
    w.outputUpdates = 0;
    new MutationObserver(() => w.outputUpdates++).observe(document.querySelector('[aria-label="Output"]')!, { childList: true, characterData: true, subtree: true });
  });
  await page.getByRole('button', { name: 'Generate' }).click();
  const generate = panel(page, 'Generate');
  await expect.poll(async () => (await generate.getByLabel('Finish').textContent()) || (await panelError(page, 'Generate')), { timeout: 120_000 }).not.toBe('');
  const error = await panelError(page, 'Generate');
  if (error) throw new Error(`the demo showed an error: ${error}`);
  return {
    output: (await page.getByLabel('Output').textContent()) ?? '',
    finish: (await generate.getByLabel('Finish').textContent()) ?? '',
    metrics: (await page.getByLabel('Metrics').textContent()) ?? '',
    status: (await page.getByRole('status').textContent()) ?? '',
    backendReason: (await page.getByRole('status').getAttribute('title')) ?? '',
    updates: await page.evaluate(() => (window as unknown as { outputUpdates: number }).outputUpdates),
  };
}

/** Starts a long sampled run and presses Stop once some text is out; resolves when Generate is enabled again. */
export async function generateThenStop(page: Page): Promise<void> {
  await page.getByLabel('Max new tokens').fill('500');
  await page.getByLabel('Temperature').fill('0.8');
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForFunction(() => (document.querySelector('[aria-label="Output"]')!.textContent ?? '').length > 60);
  // The Teach panel has a Stop button too.
  await panel(page, 'Generate').getByRole('button', { name: 'Stop' }).click();
  await page.waitForSelector('#generate:not([disabled])');
  await page.getByLabel('Temperature').fill('0');
}
