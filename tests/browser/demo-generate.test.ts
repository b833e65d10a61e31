/** The Generate panel tells the truth about a run: how it ended, its own metrics, and what it refused to run. */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_GOOD } from '../support/sources.ts';
import { useBrowser } from './support/browser.ts';
import { generateInDemo, generateThenStop, openDemo, panel, panelError } from './support/demo.ts';

describe('demo Generate panel', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  beforeAll(async () => {
    page = await openDemo(browser(), '?model=stories260k&dtype=fp32');
  });

  it('says the run reached its token limit', async () => {
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 12 });
    expect(run.finish).toBe('Ended: reached the limit of 12 new tokens.');
    expect(run.metrics).toMatch(/· 5 in \/ 12 out$/);
  });

  it('says which stop string ended the run, and the text stops before it', async () => {
    await page.getByLabel('Stop at').fill('.');
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 64 });
    await page.getByLabel('Stop at').fill('');
    expect(run.finish).toMatch(/^Ended: reached the stop string "\." after \d+ tokens\.$/);
    expect(run.output).toBe(KNOWN_GOOD.text.slice(0, KNOWN_GOOD.text.indexOf('.')));
  });

  it('says the run was stopped when Stop was pressed', async () => {
    await generateThenStop(page);
    expect(await panel(page, 'Generate').getByLabel('Finish').textContent()).toMatch(/^Stopped by you after \d+ tokens\.$/);
    expect(await page.getByLabel('Metrics').textContent()).toBe('');
    expect(await panelError(page, 'Generate')).toBe('');
  });

  it("clears the previous run's output, end and metrics as a new run starts", async () => {
    await generateInDemo(page, { prompt: 'The cat', maxTokens: 8 });
    expect(await page.getByLabel('Metrics').textContent()).not.toBe('');
    await page.getByLabel('Prompt').fill(KNOWN_GOOD.prompt);
    await page.getByLabel('Max new tokens').fill('300');
    await page.evaluate(() => {
      const w = window as unknown as { outputs: string[] };
      const output = document.querySelector('[aria-label="Output"]')!;
      w.outputs = [];
      new MutationObserver(() => w.outputs.push(output.textContent ?? '')).observe(output, { childList: true, characterData: true, subtree: true });
    });
    await page.getByRole('button', { name: 'Generate' }).click();
    expect(await page.evaluate(() => ['Finish', 'Metrics'].map((l) => document.querySelector(`[aria-label="${l}"]`)!.textContent))).toEqual(['', '']);
    await expect.poll(() => panel(page, 'Generate').getByLabel('Finish').textContent(), { timeout: 60_000 }).toMatch(/^Ended/);
    const outputs = await page.evaluate(() => (window as unknown as { outputs: string[] }).outputs);
    expect(outputs[0]).toBe('');
    expect(outputs.slice(1).every((o) => o.startsWith(KNOWN_GOOD.prompt))).toBe(true);
  });

  it.each(['0', '2.5', ''])('rejects max new tokens %j in the form with a message, and runs nothing', async (value) => {
    await page.getByLabel('Max new tokens').fill(value);
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => panelError(page, 'Generate')).toBe(`Max new tokens must be a whole number ≥ 1; got ${JSON.stringify(value)}`);
    expect(await page.getByLabel('Max new tokens').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Output').textContent()).toBe('');
    expect(await page.getByLabel('Metrics').textContent()).toBe('');
    await page.getByLabel('Max new tokens').fill('8');
  });

  it('a prompt longer than the context shows both sizes and never the prompt', async () => {
    const prompt = 'Once upon a time there was a dog. '.repeat(60);
    await page.getByLabel('Prompt').fill(prompt);
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => panelError(page, 'Generate'), { timeout: 30_000 }).toMatch(/^ContextOverflowError \(context-overflow\): the prompt is \d+ tokens; this model's context is 512 tokens/);
    const error = await panelError(page, 'Generate');
    expect(Number(/the prompt is (\d+) tokens/.exec(error)![1])).toBeGreaterThan(512);
    expect(error).not.toContain('there was a dog');
    expect(await page.getByLabel('Output').textContent()).toBe('');
  });
});
