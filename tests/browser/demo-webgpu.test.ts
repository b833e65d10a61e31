/** The built demo with a (software) WebGPU adapter, and with WebGPU made to fail. */
import { describe, expect, it } from 'vitest';
import { KNOWN_GOOD } from '../support/sources.ts';
import { appUrl, launch, useBrowser } from './support/browser.ts';
import { generateInDemo, openDemo, panelError } from './support/demo.ts';

describe('demo with WebGPU (SwiftShader)', () => {
  const browser = useBrowser({ webgpu: true });

  it('auto picks WebGPU and streams exactly the known-good text for fp32', async () => {
    const page = await browser().newPage();
    await page.goto(appUrl('?model=stories260k&dtype=fp32&device=auto'));
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 40 });
    expect(run.metrics).toMatch(/^WEBGPU · fp32 ·/);
    expect(run.backendReason).toMatch(/^WebGPU adapter: /);
    expect((run.output + ' ').startsWith(KNOWN_GOOD.text.slice(0, run.output.length))).toBe(true);
    expect(run.output.length).toBeGreaterThan(KNOWN_GOOD.prompt.length + 100);
    await page.close();
  });

  it('falls back to WASM when WebGPU fails, says why, and still produces the reference text', async () => {
    const context = await browser().newContext();
    // Make the WebGPU build of ONNX Runtime unloadable: session creation on WebGPU fails.
    await context.route('**/ort-wasm-simd-threaded.asyncify.*', (route) => route.abort());
    const page = await context.newPage();
    await page.goto(appUrl('?model=stories260k&dtype=fp32&device=auto'));
    const run = await generateInDemo(page, { prompt: KNOWN_GOOD.prompt, maxTokens: 64 });
    expect(run.metrics).toMatch(/^WASM · fp32 ·/);
    expect(run.backendReason).toMatch(/^WebGPU session creation failed \(.*\); fell back to WASM$/);
    expect(run.output.startsWith(KNOWN_GOOD.text)).toBe(true);
    await context.close();
  });

  it('an explicit WebGPU request without an adapter is a typed error, not a silent switch', async () => {
    const plain = await launch({ webgpu: false });
    const page = await openDemo(plain, '?model=stories260k&dtype=q4&device=webgpu');
    await page.getByRole('button', { name: 'Load' }).click();
    await expect.poll(() => panelError(page, 'Model'), { timeout: 30_000 }).toMatch(/BackendUnavailableError \(backend-unavailable\): WebGPU was requested but/);
    // It ends with the failure, not mid-way ("Creating session…") with a full bar.
    expect(await page.getByRole('status').textContent()).toBe('Could not load stories260k · q4 · webgpu. No model is loaded.');
    expect(await page.getByLabel('Loading progress').evaluate((p) => (p as HTMLProgressElement).value)).toBe(0);
    await plain.close();
  });
});
