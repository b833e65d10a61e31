/** The demo's Teach panel, driven like a person would: its input checks, files, and what it shows. */
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch } from './support/browser.ts';
import { openDemo, panel, panelError } from './support/demo.ts';

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
