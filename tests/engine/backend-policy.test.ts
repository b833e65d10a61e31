/** The one backend policy on its own: order, the failures it records, and what a required backend means. */
import { describe, expect, it } from 'vitest';
import { BackendUnusable, chooseBackend, runWithFallback, type Candidate } from '../../src/engine/backends/policy.ts';
import { BackendUnavailableError } from '../../src/errors.ts';
import type { Backend } from '../../src/types.ts';

/** A candidate that opens to its name, is unusable, or fails; it records being tried in `tried`. */
function candidate(backend: Backend, outcome: 'opens' | 'unusable' | 'fails', tried: Backend[]): Candidate<string> {
  return {
    backend,
    open: async () => {
      tried.push(backend);
      if (outcome === 'unusable') throw new BackendUnusable('no adapter');
      if (outcome === 'fails') throw new Error(`${backend} broke`);
      return { value: `${backend} session`, description: `${backend} chosen first` };
    },
  };
}

describe('chooseBackend', () => {
  it('takes the first candidate that opens and reports its own description', async () => {
    const tried: Backend[] = [];
    const choice = await chooseBackend([candidate('webgpu', 'opens', tried), candidate('wasm', 'opens', tried)]);
    expect(choice).toEqual({ value: 'webgpu session', backend: 'webgpu', reason: 'webgpu chosen first', fellBack: false, failures: [] });
    expect(tried).toEqual(['webgpu']);
  });

  it('records an unusable backend without calling it a fallback', async () => {
    const choice = await chooseBackend([candidate('webgpu', 'unusable', []), candidate('wasm', 'opens', [])]);
    expect(choice).toMatchObject({ backend: 'wasm', reason: 'WebGPU unavailable (no adapter); using WASM', fellBack: false, failures: [{ backend: 'webgpu', kind: 'unusable', message: 'no adapter' }] });
  });

  it('records a failed backend and says the runtime fell back', async () => {
    const choice = await chooseBackend([candidate('webgpu', 'fails', []), candidate('wasm', 'opens', [])]);
    expect(choice).toMatchObject({ backend: 'wasm', reason: 'WebGPU webgpu broke; fell back to WASM', fellBack: true, failures: [{ backend: 'webgpu', kind: 'failed', message: 'webgpu broke' }] });
  });

  it('counts failures given from before (a run that failed) in the reason and in fellBack', async () => {
    const choice = await chooseBackend([candidate('wasm', 'opens', [])], { earlier: [{ backend: 'webgpu', kind: 'failed', message: 'run failed (lost)' }] });
    expect(choice).toMatchObject({ backend: 'wasm', reason: 'WebGPU run failed (lost); fell back to WASM', fellBack: true });
  });

  it('a required backend that fails is a BackendUnavailableError, and no other is tried', async () => {
    const tried: Backend[] = [];
    const failure = await chooseBackend([candidate('webgpu', 'unusable', tried), candidate('wasm', 'opens', tried)], { required: true }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(BackendUnavailableError);
    expect((failure as Error).message).toBe('WebGPU was requested but no adapter');
    expect(tried).toEqual(['webgpu']);
  });

  it("the last candidate's own error is rethrown as it is", async () => {
    const failure = await chooseBackend([candidate('webgpu', 'unusable', []), candidate('wasm', 'fails', [])]).catch((e: unknown) => e);
    expect(failure).toEqual(new Error('wasm broke'));
  });

  it('an abort between candidates stops before the next one is tried', async () => {
    const tried: Backend[] = [];
    const stop = new AbortController();
    stop.abort();
    await expect(chooseBackend([candidate('webgpu', 'fails', tried), candidate('wasm', 'opens', tried)], { signal: stop.signal })).rejects.toThrow(/aborted/);
    expect(tried).toEqual(['webgpu']);
  });
});

describe('runWithFallback', () => {
  /** A model whose value in use is `held.value`; falling back puts WASM in its place and records the message. */
  function model(backend: Backend) {
    const held = { value: { backend: { name: backend } }, fellBack: [] as string[] };
    const fallBack = async (message: string): Promise<void> => {
      held.fellBack.push(message);
      held.value = { backend: { name: 'wasm' } };
    };
    return { held, current: () => held.value, fallBack };
  }

  it('a run that throws on WebGPU moves the model on and retries on the backend that took over', async () => {
    const m = model('webgpu');
    const ran: Backend[] = [];
    const result = await runWithFallback(m.current, m.fallBack, async (v) => {
      ran.push(v.backend.name);
      if (v.backend.name === 'webgpu') throw new Error('device hung');
      return 'done';
    });
    expect(result).toBe('done');
    expect(ran).toEqual(['webgpu', 'wasm']);
    expect(m.held.fellBack).toEqual(['run failed (device hung)']);
  });

  it('the retry can differ from the first run (a decoder that must be brought up to date)', async () => {
    const m = model('webgpu');
    const result = await runWithFallback(m.current, m.fallBack, () => Promise.reject(new Error('lost')), async (v) => `retried on ${v.backend.name}`);
    expect(result).toBe('retried on wasm');
  });

  it('a run that throws on WASM, the last resort, is rethrown as it is and nothing falls back', async () => {
    const m = model('wasm');
    const failure = new Error('out of memory');
    await expect(runWithFallback(m.current, m.fallBack, () => Promise.reject(failure))).rejects.toBe(failure);
    expect(m.held.fellBack).toEqual([]);
  });
});
