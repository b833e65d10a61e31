/**
 * The decoder's prefix cache, on stories260K through onnxruntime-node (the same Tensor/session API as
 * onnxruntime-web): reusing a cached prefix must give exactly what a cold run gives, a failed run must
 * leave the cache usable, and the cache must stay within its limits.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionBackend, InferenceSession } from '../../src/engine/backends/types.ts';
import { Decoder } from '../../src/engine/generation/decoder.ts';
import type { KvCacheLimits } from '../../src/types.ts';
import { argmax } from '../reference/llama2c.ts';
import { maxAbsDiff } from '../support/ort-node.ts';
import { STORIES_DIR } from '../support/sources.ts';

const SHAPE = { layers: 5, kvHeads: 4, headDim: 8, vocabSize: 512, contextLength: 512 };
const model = readFileSync(join(STORIES_DIR, 'onnx/model.onnx'));
/** "Once upon a time" and two continuations that share it. */
const PROMPT = [1, 403, 407, 261, 378];
const LONGER = [...PROMPT, 432, 383, 286, 261, 376];
const BRANCH = [...PROMPT, 298, 340, 11];

let session: InferenceSession;
const backend = { name: 'wasm', ort, threads: 1, createSession: async () => session, onLost: () => {} } as unknown as ExecutionBackend;
const decoder = (limits?: KvCacheLimits): Decoder => new Decoder(backend, session, SHAPE, limits);

/** Logits of the last id of `ids`, computed from an empty cache by a decoder of its own. */
async function cold(ids: number[]): Promise<Float32Array> {
  return Float32Array.from((await decoder().prefill(ids)).logits);
}

/** Equal up to float rounding: a cached step and a whole prefill sum in different orders. */
function expectSameLogits(got: Float32Array, want: Float32Array): void {
  expect(argmax(got)).toBe(argmax(want));
  expect(maxAbsDiff(got, want)).toBeLessThan(1e-5);
}

/** `n` greedy ids after `prompt`. */
async function greedy(d: Decoder, prompt: number[], n: number): Promise<number[]> {
  let logits = (await d.prefill(prompt)).logits;
  const out: number[] = [];
  while (out.length < n) {
    out.push(argmax(logits));
    if (out.length < n) logits = await d.step([out.at(-1)!]);
  }
  return out;
}

beforeAll(async () => {
  session = (await ort.InferenceSession.create(model)) as unknown as InferenceSession;
});

describe('decoder prefix cache', () => {
  it('a prompt extending the cached sequence computes only the new tokens, with the logits of a cold run', async () => {
    const d = decoder();
    await d.prefill(PROMPT);
    const { logits, reused } = await d.prefill(LONGER);
    expect(reused).toBe(PROMPT.length);
    expectSameLogits(logits, await cold(LONGER));
  });

  it('a prompt sharing part of a cached sequence reuses that part and keeps the original cached', async () => {
    const d = decoder();
    await d.prefill(LONGER);
    const { logits, reused } = await d.prefill(BRANCH);
    expect(reused).toBe(PROMPT.length);
    expect(d.cachedSequences).toEqual([BRANCH, LONGER]);
    expectSameLogits(logits, await cold(BRANCH));
    expect((await d.prefill([...LONGER, 5])).reused).toBe(LONGER.length);
  });

  it('the same prompt again recomputes only its last token', async () => {
    const d = decoder();
    await d.prefill(LONGER);
    const { logits, reused } = await d.prefill(LONGER);
    expect(reused).toBe(LONGER.length - 1);
    expectSameLogits(logits, await cold(LONGER));
  });

  it('greedy continuations with reuse equal cold ones for prompts sharing prefixes, in any order', async () => {
    const prompts = [PROMPT, LONGER, BRANCH, PROMPT.slice(0, 3), LONGER, [1, 403, 999 % 512, 17]];
    const warm = decoder();
    for (const p of prompts) expect(await greedy(warm, p, 12), JSON.stringify(p)).toEqual(await greedy(decoder(), p, 12));
  });

  it('a failed run leaves the cache as it was', async () => {
    const d = decoder();
    await d.prefill(PROMPT);
    const before = d.cachedSequences;
    await expect(d.prefill([...PROMPT, 100_000])).rejects.toThrow();
    expect(d.cachedSequences.filter((s) => s.length)).toEqual(before);
    const { logits, reused } = await d.prefill(LONGER);
    expect(reused).toBe(PROMPT.length);
    expectSameLogits(logits, await cold(LONGER));
  });

  it('keeps at most maxSequences sequences and maxBytes of KV cache', async () => {
    // stories260K: 5 layers × (key + value) × 4 heads × 8 dims × 4 bytes = 1,280 bytes a token.
    const d = decoder({ maxSequences: 3, maxBytes: 20 * 1280 });
    for (let i = 0; i < 8; i++) await d.prefill([1, 10 + i, 20 + i, 30 + i, 40 + i, 50 + i]);
    expect(d.cachedSequences.length).toBeLessThanOrEqual(3);
    expect(d.cachedBytes).toBeLessThanOrEqual(20 * 1280);
    expect(d.cachedSequences[0]).toEqual([1, 17, 27, 37, 47, 57]);
    await d.prefill(Array.from({ length: 30 }, (_, i) => i + 3));
    expect(d.cachedSequences).toHaveLength(1);
  });

  it('with maxSequences 0 every prompt starts cold', async () => {
    const d = decoder({ maxSequences: 0, maxBytes: 0 });
    await d.prefill(PROMPT);
    const { logits, reused } = await d.prefill(LONGER);
    expect(reused).toBe(0);
    expectSameLogits(logits, await cold(LONGER));
  });
});
