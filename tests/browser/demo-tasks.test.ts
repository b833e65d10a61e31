/** The demo's chat, extraction and skills panels, driven like a person would; one page, one step per test. */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { appUrl, useBrowser } from './support/browser.ts';

describe('demo task panels', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  /** The exported skill file and the classification it was exported with. */
  let file: string;
  let answer: string | null;

  beforeAll(async () => {
    page = await browser().newPage();
    await page.goto(appUrl('?dtype=fp32'));
  });

  it('chat streams a reply and Send works again after it', async () => {
    await page.getByRole('button', { name: 'Send' }).click();
    const reply = page.locator('.bubble.assistant');
    await expect.poll(async () => ((await reply.textContent()) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(10);
    // Send is enabled again when the reply has ended, however long the rest of it takes.
    await expect.poll(() => page.getByRole('button', { name: 'Send' }).isEnabled(), { timeout: 30_000 }).toBe(true);
  });

  it('extraction shows a JSON object with a string name and an integer age', async () => {
    await page.getByRole('button', { name: 'Extract', exact: true }).click();
    await expect.poll(async () => (await page.getByLabel('Extraction result').textContent()) ?? '', { timeout: 30_000 }).toMatch(/^\{/);
    const extracted = JSON.parse((await page.getByLabel('Extraction result').textContent())!);
    expect(typeof extracted.name === 'string' && Number.isInteger(extracted.age)).toBe(true);
  });

  it('training reports held-out accuracy, a 3 × 3 confusion matrix and a full progress bar', async () => {
    await page.getByRole('button', { name: 'Train' }).click();
    await expect.poll(() => page.getByLabel('Training report').textContent(), { timeout: 60_000 }).toMatch(/^Held-out accuracy \d+ % on \d+ examples \(chance 33 %\), trained on \d+\.$/);
    expect(await page.getByLabel('Confusion matrix').locator('tbody tr').count()).toBe(3);
    expect(await page.getByLabel('Training progress').evaluate((p) => (p as HTMLProgressElement).value)).toBe(1);
  });

  it('classify shows a theme with its probability', async () => {
    await page.getByRole('button', { name: 'Classify' }).click();
    await expect.poll(() => page.getByLabel('Classification').textContent()).toMatch(/^(animals|food|weather) \d+ % · /);
    await page.screenshot({ path: 'test-results/demo-tasks.png', fullPage: true });
    answer = await page.getByLabel('Classification').textContent();
  });

  it('Export skill downloads the sealed story-theme skill for stories260k', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export skill' }).click()]);
    file = readFileSync((await download.path())!, 'utf8');
    expect(JSON.parse(file)).toMatchObject({ format: 'browser-slm-skill', name: 'story-theme', model: { id: 'stories260k' } });
  });

  it('in a fresh profile the imported skill gives the same answer, and Delete skill disables Classify', async () => {
    const fresh = await browser().newContext();
    const other = await fresh.newPage();
    await other.goto(appUrl('?dtype=fp32'));
    await other.getByRole('button', { name: 'Load' }).click();
    await expect.poll(() => other.getByRole('status').textContent(), { timeout: 30_000 }).toMatch(/^Ready/);
    await other.getByLabel('Import skill').setInputFiles({ name: 'story-theme.skill.json', mimeType: 'application/json', buffer: Buffer.from(file) });
    await expect.poll(() => other.getByLabel('Saved skills').textContent()).toBe('Saved: story-theme (v1)');
    await other.getByRole('button', { name: 'Classify' }).click();
    await expect.poll(() => other.getByLabel('Classification').textContent()).toBe(answer);
    await other.getByRole('button', { name: 'Delete skill' }).click();
    await expect.poll(() => other.getByLabel('Saved skills').textContent()).toBe('No saved skills');
    expect(await other.getByRole('button', { name: 'Classify' }).isDisabled()).toBe(true);
    await fresh.close();
  });
});
