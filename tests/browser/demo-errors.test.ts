/** Each demo panel shows its own errors, and clears them (and its stale result) on its next action. */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from './support/browser.ts';
import { openDemo, panel, panelError } from './support/demo.ts';

const VALID_SCHEMA = '{"type":"object","properties":{"name":{"type":"string","maxLength":12}},"required":["name"],"additionalProperties":false}';
const UNSUPPORTED_SCHEMA = '{"type":"integer","multipleOf":3}';

describe('demo errors per panel', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  beforeAll(async () => {
    page = await openDemo(browser(), '?model=stories260k&dtype=fp32');
  });

  const extract = async (schema: string): Promise<void> => {
    await page.getByLabel('JSON schema').fill(schema);
    await page.getByRole('button', { name: 'Extract', exact: true }).click();
    await expect.poll(async () => (await page.getByLabel('Extraction result').textContent()) || (await panelError(page, 'Extract JSON')), { timeout: 60_000 }).not.toBe('');
  };

  it('an Extract failure shows in the Extract panel only, and clears the result it replaced', async () => {
    await extract(VALID_SCHEMA);
    expect(JSON.parse((await page.getByLabel('Extraction result').textContent())!)).toHaveProperty('name');
    await extract(UNSUPPORTED_SCHEMA);
    expect(await panelError(page, 'Extract JSON')).toMatch(/^UnsupportedSchemaError \(unsupported-schema\): .*multipleOf/);
    expect(await page.getByLabel('Extraction result').textContent()).toBe('');
    expect(await page.getByRole('alert').count()).toBe(1);
  });

  it("the Extract panel's next action clears its error", async () => {
    await extract(VALID_SCHEMA);
    expect(await panelError(page, 'Extract JSON')).toBe('');
    expect(JSON.parse((await page.getByLabel('Extraction result').textContent())!)).toHaveProperty('name');
  });

  it('a Skills failure shows in the Skills panel and leaves the Generate panel clean', async () => {
    await page.getByLabel('Labelled examples').fill('no label on this line');
    await page.getByRole('button', { name: 'Train' }).click();
    await expect.poll(() => panelError(page, 'Skills'), { timeout: 30_000 }).toMatch(/^InvalidArgumentError \(invalid-argument\): training needs labelled examples/);
    expect(await panelError(page, 'Generate')).toBe('');
    expect(await page.getByRole('alert').count()).toBe(1);
  });

  it('an error in one panel stays while another panel succeeds', async () => {
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => panel(page, 'Generate').getByLabel('Finish').textContent(), { timeout: 60_000 }).toMatch(/^Ended/);
    expect(await panelError(page, 'Skills')).toMatch(/^InvalidArgumentError/);
    expect(await panelError(page, 'Generate')).toBe('');
  });
});
