/** The demo's default model is SmolLM2-135M-Instruct: it loads on WASM and chats and extracts through the UI. */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from './support/browser.ts';
import { loadInDemo, openDemo, panelError } from './support/demo.ts';

describe('demo on its default model', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  beforeAll(async () => {
    page = await openDemo(browser());
  });

  it('picks SmolLM2-135M-Instruct, says what it is and how big, and loads it', async () => {
    const picker = page.getByRole('combobox', { name: 'Model' });
    expect(await picker.inputValue()).toBe('smollm2-135m-instruct');
    expect(await picker.locator('option:checked').textContent()).toMatch(/smollm2-135m-instruct · text generator · \d+(\.\d+)? MB–\d+(\.\d+)? MB/);
    expect(await page.getByLabel('About this model').textContent()).toMatch(/SmolLM2-135M-Instruct/);
    expect(await loadInDemo(page)).toMatch(/smollm2-135m-instruct/);
  }, 300_000);

  it('answers a chat message in its own template', async () => {
    await page.getByLabel('Message').fill('What is the capital of France? Answer in one word.');
    await page.getByRole('button', { name: 'Send' }).click();
    const reply = page.locator('.bubble.assistant');
    await expect.poll(async () => (await reply.textContent()) ?? '', { timeout: 60_000 }).toMatch(/Paris/);
    await page.waitForSelector('#chat-send:not([disabled])', { timeout: 60_000 });
    expect(await reply.textContent()).not.toMatch(/<\|im_(start|end)\|>/);
    expect(await panelError(page, 'Chat')).toBe('');
  }, 120_000);

  it('extracts the invoice example into JSON of the schema\'s shape', async () => {
    await page.getByRole('button', { name: 'Extract', exact: true }).click();
    await expect.poll(async () => (await page.getByLabel('Extraction result').textContent()) ?? '', { timeout: 120_000 }).toMatch(/^\{/);
    const extracted = JSON.parse((await page.getByLabel('Extraction result').textContent())!);
    console.log(`demo invoice extraction with SmolLM2: ${JSON.stringify(extracted)}`);
    // A 135M model gets some values wrong (the score over 20 sentences is in smollm2.test.ts); the shape always fits.
    expect(Object.keys(extracted)).toEqual(['invoice', 'supplier', 'quantity', 'unit_price', 'due']);
    expect(Number.isInteger(extracted.invoice) && Number.isInteger(extracted.quantity) && /^\d{4}-\d{2}-\d{2}$/.test(extracted.due)).toBe(true);
  }, 180_000);
});
