/** Loading in the demo: a failed load keeps the model that works, and actions during a load wait for it. */
import { describe, expect, it } from 'vitest';
import { KNOWN_GOOD } from '../support/sources.ts';
import { useBrowser } from './support/browser.ts';
import { generateInDemo, loadInDemo, openDemo, panelError } from './support/demo.ts';
import { resetServer, servedRequests } from './support/server-control.ts';

describe('demo loading', () => {
  const browser = useBrowser({ webgpu: false });

  it('a failed load says so in the Model panel and keeps the previous model, which still generates', async () => {
    const page = await openDemo(browser(), '?model=stories260k&dtype=fp32&device=auto');
    expect(await loadInDemo(page)).toMatch(/^Ready · stories260k · WASM · fp32/);
    await page.getByLabel('Backend').selectOption('webgpu');
    await page.getByRole('button', { name: 'Load' }).click();
    await expect.poll(() => panelError(page, 'Model'), { timeout: 30_000 }).toMatch(/^BackendUnavailableError \(backend-unavailable\): WebGPU was requested but/);
    expect(await page.getByRole('status').textContent()).toMatch(/^Could not load stories260k · fp32 · webgpu\. Still loaded: stories260k · WASM · fp32 · 1 thread/);
    // The picker shows the model in use again.
    expect(await page.getByLabel('Backend').inputValue()).toBe('auto');
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 40 });
    expect(KNOWN_GOOD.text.startsWith(run.output)).toBe(true);
    expect(run.output.length).toBeGreaterThan(KNOWN_GOOD.prompt.length + 60);
    expect(run.metrics).toMatch(/^WASM · fp32 ·/);
    await page.close();
  });

  it('a load started by Generate that fails shows its error in the Model panel, and Generate says it did not run', async () => {
    const page = await openDemo(browser(), '?model=stories260k&dtype=q4&device=webgpu');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => panelError(page, 'Generate'), { timeout: 30_000 }).toBe('Not run: stories260k did not load (BackendUnavailableError); see the Model panel.');
    expect(await panelError(page, 'Model')).toMatch(/^BackendUnavailableError \(backend-unavailable\): WebGPU was requested but/);
    expect(await page.getByRole('status').textContent()).toBe('Could not load stories260k · q4 · webgpu. No model is loaded.');
    expect(await page.getByLabel('Output').textContent()).toBe('');
    await page.close();
  });

  it('Generate pressed during a Load waits for that load instead of starting another', async () => {
    const context = await browser().newContext();
    // Hold the weights back so that Generate is certainly pressed while the load is running.
    await context.route('**/models/stories260k/onnx/**', async (route) => {
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    const page = await openDemo(context, '?model=stories260k&dtype=fp32');
    await resetServer();
    await page.evaluate(() => {
      const w = window as unknown as { statuses: string[] };
      w.statuses = [];
      const status = document.querySelector('[role="status"]')!;
      new MutationObserver(() => w.statuses.push(status.textContent ?? '')).observe(status, { childList: true, characterData: true, subtree: true });
    });
    await page.getByRole('button', { name: 'Load' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/^(Loading|Downloading)/);
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 40 });
    expect(KNOWN_GOOD.text.startsWith(run.output)).toBe(true);
    const statuses = await page.evaluate(() => (window as unknown as { statuses: string[] }).statuses);
    expect(statuses.filter((s) => s.startsWith('Loading'))).toHaveLength(1);
    expect(statuses.filter((s) => s.startsWith('Ready'))).toHaveLength(1);
    const weights = (await servedRequests('/models/stories260k/')).filter((r) => r.path.endsWith('.onnx'));
    expect(weights.map((r) => r.path)).toEqual(['/models/stories260k/onnx/model.onnx']);
    await context.close();
  });
});
