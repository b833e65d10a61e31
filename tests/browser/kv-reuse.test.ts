/**
 * KV-cache reuse through the public API in Chromium (WASM worker): calls whose prompts share a prefix
 * with an earlier call compute only the rest, and reply token for token as a model loaded with
 * `kvCache: { maxSequences: 0 }` (every call cold) does — across two models, and after an abort.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelHandle, SlmClient } from '../../src/index.ts';
import { openHarness, useBrowser } from './support/browser.ts';

type Handles = Record<'warm' | 'cold' | 'warmQ8' | 'coldQ8', ModelHandle>;
interface Run {
  ids: number[];
  reused: number;
}

describe('KV-cache reuse across calls', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  beforeAll(async () => {
    page = await openHarness(browser());
    await page.evaluate(async () => {
      const w = window as unknown as { client: SlmClient; m: Handles; slm: typeof import('../../src/index.ts') };
      w.client = await w.slm.SlmClient.inWorker();
      const cold = { maxSequences: 0, maxBytes: 0 };
      w.m = {
        warm: await w.client.load('stories260k', { dtype: 'fp32' }),
        cold: await w.client.load('stories260k', { dtype: 'fp32', kvCache: cold }),
        warmQ8: await w.client.load('stories260k', { dtype: 'q8' }),
        coldQ8: await w.client.load('stories260k', { dtype: 'q8', kvCache: cold }),
      };
    });
  });
  /** Greedy generations of `prompts` in order on one handle: ids and reused prompt tokens per call. */
  const generate = (model: keyof Handles, prompts: string[]): Promise<Run[]> =>
    page.evaluate(
      async ({ model, prompts }) => {
        const handle = (window as unknown as { m: Handles }).m[model];
        const runs: Run[] = [];
        for (const p of prompts) {
          const r = await handle.generate(p, { maxNewTokens: 16 });
          runs.push({ ids: r.tokenIds, reused: r.stats.reusedPromptTokens });
        }
        return runs;
      },
      { model, prompts },
    );

  /** A conversation that grows turn by turn, as chat prompts do. */
  const TURNS = ['Once upon a time', 'Once upon a time, there was a dog.', 'Once upon a time, there was a dog. The dog liked to run.', 'Once upon a time, there was a cat.'];

  it('later calls reuse the shared prefix and generate exactly what a cold model generates', async () => {
    const warm = await generate('warm', TURNS);
    const cold = await generate('cold', TURNS);
    expect(warm.map((r) => r.ids)).toEqual(cold.map((r) => r.ids));
    expect(cold.every((r) => r.reused === 0)).toBe(true);
    expect(warm.slice(1).every((r) => r.reused >= 5)).toBe(true);
  });

  it('two models interleaved each keep their own cache and their own outputs', async () => {
    const warm: Run[] = [];
    const warmQ8: Run[] = [];
    for (const t of TURNS) {
      warm.push(...(await generate('warm', [t])));
      warmQ8.push(...(await generate('warmQ8', [t])));
    }
    expect(warm.map((r) => r.ids)).toEqual((await generate('cold', TURNS)).map((r) => r.ids));
    expect(warmQ8.map((r) => r.ids)).toEqual((await generate('coldQ8', TURNS)).map((r) => r.ids));
    expect(warmQ8.slice(1).every((r) => r.reused >= 5)).toBe(true);
  });

  it('an aborted generation leaves a cache that still gives the cold output', async () => {
    const name = await page.evaluate(async () => {
      const { warm } = (window as unknown as { m: Handles }).m;
      const stop = new AbortController();
      const stream = warm.stream('Once upon a time, there was a big', { maxNewTokens: 200, signal: stop.signal });
      let chunks = 0;
      try {
        for await (const _ of stream) if (++chunks === 5) stop.abort();
        return 'not aborted';
      } catch (e) {
        return (e as Error).name;
      }
    });
    expect(name).toBe('AbortError');
    const prompts = ['Once upon a time, there was a big', 'Once upon a time, there was a big red ball.'];
    const warm = await generate('warm', prompts);
    expect(warm.map((r) => r.ids)).toEqual((await generate('cold', prompts)).map((r) => r.ids));
    expect(warm[0]!.reused).toBeGreaterThan(5);
  });
});

describe('KV-cache reuse on WebGPU (SwiftShader)', () => {
  const browser = useBrowser({ webgpu: true });

  it('a prompt branching off a GPU-resident cache gives the cold output', async () => {
    const page = await openHarness(browser());
    const prompts = ['Once upon a time, there was a dog.', 'Once upon a time, there was a cat.', 'Once upon a time, there was a dog. It ran.'];
    const r = await page.evaluate(async (prompts) => {
      const { SlmClient } = (window as unknown as { slm: typeof import('../../src/index.ts') }).slm;
      const client = await SlmClient.inWorker();
      const warm = await client.load('stories260k', { dtype: 'fp32', device: 'webgpu' });
      const cold = await client.load('stories260k', { dtype: 'fp32', device: 'webgpu', kvCache: { maxSequences: 0 } });
      const run = async (m: ModelHandle): Promise<Array<{ ids: number[]; reused: number }>> => {
        const out = [];
        for (const p of prompts) {
          const g = await m.generate(p, { maxNewTokens: 6 });
          out.push({ ids: g.tokenIds, reused: g.stats.reusedPromptTokens });
        }
        return out;
      };
      return { backend: warm.info.backend, warm: await run(warm), cold: await run(cold) };
    }, prompts);
    expect(r.backend).toBe('webgpu');
    expect(r.warm.map((x) => x.ids)).toEqual(r.cold.map((x) => x.ids));
    expect(r.warm[1]!.reused).toBeGreaterThan(5);
    expect(r.warm[2]!.reused).toBeGreaterThan(r.warm[1]!.reused);
  });
});
