/**
 * The dtype policy's decisions from what the WebGPU probe found (the adapter's own feature set is
 * exercised for real in tests/browser/smollm2-webgpu.test.ts, on SwiftShader, which lacks shader-f16).
 */
import { describe, expect, it } from 'vitest';
import { chooseDtype, webgpuDtypeProblem } from '../../src/engine/backends/dtype.ts';
import type { WebGpuProbe } from '../../src/engine/backends/webgpu.ts';

const found = (features: string[]): Extract<WebGpuProbe, { ok: true }> => ({
  ok: true,
  adapter: { features: new Set(features), limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 } },
  description: 'test adapter',
});
const missing: WebGpuProbe = { ok: false, reason: 'navigator.gpu is not available in this browser or context' };

describe('chooseDtype', () => {
  it("'auto' asks for q4f16 when the adapter has shader-f16", async () => {
    expect(await chooseDtype('auto', 'auto', async () => found(['shader-f16', 'subgroups']))).toEqual({ dtype: 'q4f16', reason: 'auto: q4f16, because the adapter (test adapter) has shader-f16' });
  });

  it("'auto' asks for q4 when the adapter lacks shader-f16, and names the feature", async () => {
    expect(await chooseDtype('auto', 'webgpu', async () => found(['subgroups']))).toEqual({
      dtype: 'q4',
      reason: 'auto: q4, because the adapter (test adapter) lacks shader-f16, which q4f16 weights need',
    });
  });

  it("'auto' asks for q4 without WebGPU, with the probe's reason", async () => {
    expect(await chooseDtype('auto', 'auto', async () => missing)).toEqual({ dtype: 'q4', reason: 'auto: q4, because WebGPU is unavailable (navigator.gpu is not available in this browser or context)' });
  });

  it("'auto' with device 'wasm' is q4 and never probes", async () => {
    let probed = false;
    const choice = await chooseDtype('auto', 'wasm', async () => {
      probed = true;
      return found(['shader-f16']);
    });
    expect(choice.dtype).toBe('q4');
    expect(probed).toBe(false);
  });

  it('an explicit dtype is kept as requested, whatever the adapter', async () => {
    expect(await chooseDtype('q4f16', 'auto', async () => found([]))).toEqual({ dtype: 'q4f16', reason: 'q4f16 was requested' });
  });
});

describe('webgpuDtypeProblem', () => {
  it('float16 weights need shader-f16; other dtypes need nothing', () => {
    expect(webgpuDtypeProblem('q4f16', found([]))).toBe('the adapter (test adapter) lacks shader-f16, which q4f16 weights need');
    expect(webgpuDtypeProblem('q4f16', found(['shader-f16']))).toBeNull();
    expect(webgpuDtypeProblem('q4', found([]))).toBeNull();
  });
});
