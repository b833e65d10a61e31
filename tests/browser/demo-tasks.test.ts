/** The demo's chat, extraction and skills panels, driven like a person would. */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from './support/browser.ts';
import { loadInDemo, openDemo, panelError } from './support/demo.ts';

describe('demo task panels', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  /** The exported skill file and the classification it gave, for the import into a fresh profile. */
  let exported = '';
  let answer = '';
  beforeAll(async () => {
    page = await openDemo(browser(), '?model=stories260k&dtype=fp32');
  });

  it('chat streams a reply into the conversation', async () => {
    await page.getByRole('button', { name: 'Send' }).click();
    const reply = page.locator('.bubble.assistant');
    await expect.poll(async () => ((await reply.textContent()) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(10);
    // Send is enabled again once the whole reply has streamed (up to 80 tokens).
    await page.waitForSelector('#chat-send:not([disabled])', { timeout: 60_000 });
    expect(await panelError(page, 'Chat')).toBe('');
    expect(await page.locator('.bubble.user').textContent()).toBe('My order #4471 arrived with a cracked screen. What can I do?');
  });

  it('extraction shows JSON that fits the schema', async () => {
    await page.getByRole('button', { name: 'Extract', exact: true }).click();
    await expect.poll(async () => (await page.getByLabel('Extraction result').textContent()) ?? '', { timeout: 30_000 }).toMatch(/^\{/);
    const extracted = JSON.parse((await page.getByLabel('Extraction result').textContent())!);
    expect(Object.keys(extracted)).toEqual(['invoice', 'supplier', 'quantity', 'unit_price', 'due']);
    expect(Number.isInteger(extracted.invoice) && typeof extracted.supplier === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(extracted.due)).toBe(true);
  });

  it('training shows its progress example by example, then the held-out report and confusion matrix', async () => {
    const examples = (await page.getByLabel('Labelled examples').inputValue()).split('\n').filter((l) => l.includes(':')).length;
    await page.evaluate(() => {
      const w = window as unknown as { bar: Array<string | null> };
      const bar = document.querySelector('[aria-label="Training progress"]')!;
      w.bar = [];
      new MutationObserver(() => w.bar.push(bar.getAttribute('value'))).observe(bar, { attributes: true, attributeFilter: ['value'] });
    });
    await page.getByRole('button', { name: 'Train' }).click();
    await expect.poll(() => page.getByLabel('Training report').textContent(), { timeout: 60_000 }).toMatch(/^Held-out accuracy \d+ % on \d+ examples \(chance 33 %\), trained on \d+\.$/);
    expect(await page.getByLabel('Confusion matrix').locator('tbody tr').count()).toBe(3);
    expect(await page.getByLabel('Training status').textContent()).toMatch(/^Trained in \d+ epochs$/);
    // The bar moves once per embedded example, is indeterminate while the head is fitted (early stopping), then full.
    const bar = await page.evaluate(() => (window as unknown as { bar: Array<string | null> }).bar);
    const perExample = Array.from({ length: examples }, (_, i) => String((i + 1) / examples));
    expect(bar.filter((v) => v !== null && v !== '1' && v !== '0')).toEqual(perExample.slice(0, -1));
    expect(bar.slice(-1)).toEqual(['1']);
    expect(bar).toContain(null);
  });

  it('a trained skill classifies a sentence', async () => {
    await page.getByRole('button', { name: 'Classify' }).click();
    await expect.poll(() => page.getByLabel('Classification').textContent(), { timeout: 30_000 }).toMatch(/^(animals|food|weather) \d+ % · /);
    answer = (await page.getByLabel('Classification').textContent())!;
  });

  it('Export skill downloads the skill file', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export skill' }).click()]);
    exported = readFileSync((await download.path())!, 'utf8');
    expect(JSON.parse(exported)).toMatchObject({ format: 'browser-slm-skill', name: 'story-theme', model: { id: 'stories260k' } });
  });

  it('an imported skill gives the same answer in a fresh profile', async () => {
    const fresh = await browser().newContext();
    const other = await openDemo(fresh, '?model=stories260k&dtype=fp32');
    await loadInDemo(other);
    await other.getByLabel('Import skill').setInputFiles({ name: 'story-theme.skill.json', mimeType: 'application/json', buffer: Buffer.from(exported) });
    await expect.poll(() => other.getByLabel('Saved skills').textContent(), { timeout: 30_000 }).toBe('Saved: story-theme (v1)');
    await other.getByRole('button', { name: 'Classify' }).click();
    await expect.poll(() => other.getByLabel('Classification').textContent(), { timeout: 30_000 }).toBe(answer);
    await fresh.close();
  });

  it('Delete skill asks first; dismissing keeps the skill, accepting deletes it', async () => {
    page.once('dialog', (d) => void d.dismiss());
    await page.getByRole('button', { name: 'Delete skill' }).click();
    // A delete would reach the worker before this classification, which needs the skill.
    await page.getByRole('button', { name: 'Classify' }).click();
    await expect.poll(() => page.getByLabel('Classification').textContent(), { timeout: 30_000 }).toBe(answer);
    expect(await page.getByLabel('Saved skills').textContent()).toBe('Saved: story-theme (v1)');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete skill' }).click();
    await expect.poll(() => page.getByLabel('Saved skills').textContent(), { timeout: 30_000 }).toBe('No saved skills');
    expect(await page.getByRole('button', { name: 'Classify' }).isDisabled()).toBe(true);
  });
});
