/**
 * The demo's Teach panel, driven like a person would: its input checks and files, then a real
 * fine-tuning run of stories260K (the tiny variant of the fixture: story sentences → their theme) with
 * its progress, loss chart, held-out Before/After, save and export, and Stop.
 */
import { readFileSync } from 'node:fs';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storyThemesText } from '../support/fine-tune-fixture.ts';
import { launch } from './support/browser.ts';
import { generateInDemo, openDemo, panel, panelError } from './support/demo.ts';

describe('demo Teach panel: input', () => {
  let browser: Browser;
  let page: Page;
  let examples: Locator;
  beforeAll(async () => {
    browser = await launch({ webgpu: false });
    page = await openDemo(browser, '?model=stories260k&dtype=fp32');
    examples = page.getByLabel('Examples', { exact: true });
  });
  afterAll(async () => browser?.close());

  it('counts the examples as they are typed', async () => {
    expect(await page.getByLabel('Example count').textContent()).toBe('24 examples');
    await examples.fill('Where is my parcel? → harbor\n\nI was charged twice -> quill\n');
    expect(await page.getByLabel('Example count').textContent()).toBe('2 examples');
  });

  it('names the bad lines in the Teach panel and keeps the examples as typed', async () => {
    const typed = 'Where is my parcel? → harbor\nno arrow on this line\n{"prompt": "x"}\nI was charged twice → quill';
    await examples.fill(typed);
    await page.getByRole('button', { name: 'Fine-tune' }).click();
    await expect.poll(() => panelError(page, 'Teach')).toBe('line 2: no "→" between the input and the output; line 3: a JSON line needs "prompt" and "completion" strings (or "messages")');
    expect(await examples.inputValue()).toBe(typed);
    expect(await page.getByLabel('Example count').textContent()).toBe('');
    // Nothing else ran: no model was loaded for it, and the other panels show no error.
    expect(await page.getByRole('status').textContent()).toBe('Not loaded');
    expect(await panelError(page, 'Skills')).toBe('');
  });

  it('rejects a rank of 0 in the form, marking the field', async () => {
    await examples.fill('Where is my parcel? → harbor');
    const rank = page.getByLabel('Rank');
    await rank.fill('0');
    await page.getByRole('button', { name: 'Fine-tune' }).click();
    await expect.poll(() => panelError(page, 'Teach')).toBe('Rank must be a whole number ≥ 1 and ≤ 64; got "0"');
    expect(await rank.getAttribute('aria-invalid')).toBe('true');
    await rank.fill('8');
  });

  it('a file that is not examples is named in the error and leaves the text as it was', async () => {
    const typed = await examples.inputValue();
    await page.getByLabel('From a file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('just some notes\nwithout arrows\n') });
    await expect.poll(() => panelError(page, 'Teach')).toBe('notes.txt: line 1: no "→" between the input and the output; line 2: no "→" between the input and the output');
    expect(await examples.inputValue()).toBe(typed);
  });

  it('a JSONL file replaces the examples, is counted, and clears the last error', async () => {
    const jsonl = ['{"prompt": "Lost parcel", "completion": "harbor"}', '{"prompt": "Double charge", "completion": "quill"}', '{"messages": [{"role": "user", "content": "App crashes"}, {"role": "assistant", "content": "anvil"}]}'].join('\n');
    await page.getByLabel('From a file').setInputFiles({ name: 'examples.jsonl', mimeType: 'application/json', buffer: Buffer.from(jsonl) });
    await expect.poll(() => examples.inputValue()).toBe(jsonl);
    expect(await page.getByLabel('Example count').textContent()).toBe('3 examples');
    expect(await panelError(page, 'Teach')).toBe('');
  });

  it('starts with nothing to save or export, and Stop disabled', async () => {
    const teach = panel(page, 'Teach');
    for (const name of ['Save as skill', 'Export adapter', 'Stop']) expect(await teach.getByRole('button', { name }).isDisabled()).toBe(true);
    expect(await page.getByRole('img', { name: 'Loss' }).isVisible()).toBe(true);
    expect(await page.getByRole('group', { name: 'Before' }).isVisible()).toBe(true);
    expect(await page.getByRole('group', { name: 'After' }).isVisible()).toBe(true);
  });
});

/** What the page showed while it fine-tuned: every value the progress bar took and every status line. */
interface Observed {
  bar: Array<string | null>;
  status: string[];
}

describe('demo Teach panel: fine-tuning stories260K', () => {
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    browser = await launch({ webgpu: false });
    page = await openDemo(browser, '?model=stories260k&dtype=fp32');
    await page.getByLabel('Examples', { exact: true }).fill(storyThemesText());
    await page.getByLabel('Adapter name').fill('story-theme-adapter');
    await page.getByLabel('Rank').fill('4');
    await page.getByLabel('Epochs').fill('2');
  });
  afterAll(async () => browser?.close());
  /** How many examples the run held out, as its report says. */
  let heldOut = 0;
  const teach = (): Locator => panel(page, 'Teach');
  const observe = (): Promise<void> =>
    page.evaluate(() => {
      const w = window as unknown as { observed: Observed };
      const bar = document.querySelector('[aria-label="Fine-tuning progress"]')!;
      const status = document.querySelector('[aria-label="Fine-tuning status"]')!;
      w.observed = { bar: [], status: [] };
      new MutationObserver(() => w.observed.bar.push(bar.getAttribute('value'))).observe(bar, { attributes: true, attributeFilter: ['value'] });
      new MutationObserver(() => w.observed.status.push(status.textContent ?? '')).observe(status, { childList: true, characterData: true, subtree: true });
    });
  const observed = (): Promise<Observed> => page.evaluate(() => (window as unknown as { observed: Observed }).observed);

  it('Fine-tune moves the bar step by step, then shows the held-out report with chance', async () => {
    await observe();
    await teach().getByRole('button', { name: 'Fine-tune' }).click();
    await expect.poll(() => page.getByLabel('Fine-tune report').textContent(), { timeout: 600_000 }).toMatch(/^Held-out exact match/);
    expect(await panelError(page, 'Teach')).toBe('');
    const report = /^Held-out exact match \d+ % before → \d+ % after, on (\d+) examples \(chance 33 %\); trained on (\d+) in \d+ (s|min \d\d s) · adapter \d+\.\d\d MB$/.exec((await page.getByLabel('Fine-tune report').textContent())!);
    expect(report).not.toBeNull();
    heldOut = Number(report![1]);
    // The default validation split holds out about a fifth of the 72 examples.
    expect(heldOut).toBeGreaterThanOrEqual(10);
    expect(Number(report![2])).toBe(72 - heldOut);
    const { bar, status } = await observed();
    const steps = status.map((s) => /^Step (\d+) of (\d+) · epoch (\d) of 2 · train loss \d+\.\d{3}/.exec(s)).filter((m) => m !== null);
    const total = Number(steps[0]![2]);
    // One status line and one bar value per step, in order, ending full.
    expect(steps.map((m) => Number(m[1]))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(bar.filter((v) => v !== null && v !== '0' && v !== '1').map(Number)).toEqual(Array.from({ length: total - 1 }, (_, i) => (i + 1) / total));
    expect(bar.at(-1)).toBe('1');
    expect(await page.getByLabel('Fine-tuning status').textContent()).toMatch(/^Fine-tuned in \d+ (s|min \d\d s)$/);
  });

  it('the loss chart draws one train point per step and the held-out points, as its description says', async () => {
    const chart = page.getByRole('img', { name: 'Loss' });
    const points = async (cls: string): Promise<number> => ((await chart.locator(`polyline.${cls}`).getAttribute('points')) ?? '').split(' ').filter(Boolean).length;
    const desc = (await chart.locator('desc').textContent())!;
    const m = /^Train loss (\d+\.\d+) at step 1 → (\d+\.\d+) at step (\d+); held-out loss (\d+\.\d+) at step \d+ → (\d+\.\d+) at step \d+\.$/.exec(desc);
    expect(m, desc).not.toBeNull();
    expect(await points('train')).toBe(Number(m![3]));
    // Held-out loss is measured at the end of each of the 2 epochs.
    expect(await points('held-out')).toBe(2);
    expect(Number(m![5])).toBeLessThan(Number(m![4]));
  });

  it('Before and After list every held-out example with marks that agree with their exact match', async () => {
    for (const side of ['Before', 'After']) {
      const group = page.getByRole('group', { name: side });
      const items = group.locator('li');
      expect(await items.count()).toBe(heldOut);
      const hits = await group.locator('li.hit').count();
      expect(await group.locator('p').textContent()).toBe(`Exact match ${((hits / heldOut) * 100).toFixed(0)} % of ${heldOut}`);
      for (const text of await items.allTextContents()) expect(text).toMatch(/^.+ → .* (✓|✗ expected (animals|food|weather))$/s);
    }
  });

  it('Save as skill saves the adapter as a skill the Skills panel lists and runs, answering in text', async () => {
    await teach().getByRole('button', { name: 'Save as skill' }).click();
    await expect.poll(() => page.getByLabel('Fine-tuning status').textContent(), { timeout: 30_000 }).toBe('Saved as the skill "story-theme-adapter" (v1): the Skills panel runs it.');
    await page.getByLabel('Skill name').fill('story-theme-adapter');
    await expect.poll(() => page.getByLabel('Saved skills').textContent(), { timeout: 30_000 }).toBe('Saved: story-theme-adapter (v1)');
    await page.getByLabel('Try it').fill('The kitten chased a mouse.');
    await page.getByRole('button', { name: 'Classify' }).click();
    await page.waitForSelector('#skill-run:not([disabled])', { timeout: 60_000 });
    expect(await panelError(page, 'Skills')).toBe('');
    // An adapter answers with generated text, not label probabilities ("label N % · …").
    const answer = (await page.getByLabel('Classification').textContent())!;
    expect(answer.trim()).not.toBe('');
    expect(answer).not.toMatch(/ \d+ % · /);
  });

  it('Export adapter downloads the sealed adapter skill', async () => {
    expect(await teach().getByRole('button', { name: 'Export adapter' }).isEnabled()).toBe(true);
    const [download] = await Promise.all([page.waitForEvent('download'), teach().getByRole('button', { name: 'Export adapter' }).click()]);
    expect(download.suggestedFilename()).toBe('story-theme-adapter.skill.json');
    const skill = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(skill).toMatchObject({ format: 'browser-slm-skill', name: 'story-theme-adapter', model: { id: 'stories260k' }, task: { kind: 'adapter', adapter: 'story-theme-adapter' } });
    expect(skill.description).toBe(await page.getByLabel('Fine-tune report').textContent());
  });

  it('at 390 px, with the chart and the Before/After lists filled, the page does not scroll sideways', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('group', { name: 'After' }).scrollIntoViewIfNeeded();
    await teach().screenshot({ path: 'test-results/demo-teach-390.png' });
    expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('Stop ends a run with no error and leaves the model generating exactly as before', async () => {
    const reference = await generateInDemo(page, { maxTokens: 32 });
    await page.getByLabel('Epochs').fill('50');
    await teach().getByRole('button', { name: 'Fine-tune' }).click();
    await expect.poll(() => page.getByLabel('Fine-tuning status').textContent(), { timeout: 60_000 }).toMatch(/^Step \d+ of/);
    await teach().getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => page.getByLabel('Fine-tuning status').textContent(), { timeout: 60_000 }).toMatch(/^Stopped by you at step \d+ of \d+; the model is unchanged\.$/);
    expect(await panelError(page, 'Teach')).toBe('');
    expect(await teach().getByRole('button', { name: 'Fine-tune' }).isEnabled()).toBe(true);
    expect(await teach().getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    expect((await generateInDemo(page, { maxTokens: 32 })).output).toBe(reference.output);
  });
});
