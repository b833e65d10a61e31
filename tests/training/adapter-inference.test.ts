/**
 * Adapters at inference on stories260K through onnxruntime-node (the runtime's Decoder on the graph that
 * withLoraInputs rewrites at load): logits with an adapter equal the float64 LoRA reference, the rewritten
 * graph without an adapter equals the converted file, and two adapters alternate on one session.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionBackend, InferenceSession } from '../../src/engine/backends/types.ts';
import { Decoder } from '../../src/engine/generation/decoder.ts';
import { adapterLayout, type LoraOptions } from '../../src/training/adapter.ts';
import { loraFeeds } from '../../src/training/lora-feeds.ts';
import { loraGraphShape, withLoraInputs } from '../../src/training/lora-graph.ts';
import { argmax, type ReferenceModel } from '../reference/llama2c.ts';
import { ReferenceLora } from '../reference/llama-lora.ts';
import { maxAbsDiff } from '../support/ort-node.ts';
import { MODELS_DIR, STORIES_DIR, storiesReference } from '../support/sources.ts';

const SHAPE = { layers: 5, kvHeads: 4, headDim: 8, vocabSize: 512, contextLength: 512 };
const config = JSON.parse(readFileSync(join(STORIES_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
const loraShape = loraGraphShape(config)!;
/** "Once upon a time" */
const PROMPT = [1, 403, 407, 261, 378];

let reference: ReferenceModel;
let runs = 0;
let sessions = 0;

/** A Decoder on the rewritten graph of `file`, counting the ORT sessions created and the runs made. */
async function openDecoder(file: string, model: { dir: string; shape: typeof SHAPE; lora: typeof loraShape } = { dir: STORIES_DIR, shape: SHAPE, lora: loraShape }): Promise<Decoder> {
  const bytes = withLoraInputs(readFileSync(join(model.dir, 'onnx', file)), model.lora);
  expect(bytes).not.toBeNull();
  const inner = await ort.InferenceSession.create(bytes!);
  sessions++;
  const session = new Proxy(inner, {
    get: (target, key) => (key === 'run' ? (...args: Parameters<typeof inner.run>) => (runs++, target.run(...args)) : Reflect.get(target, key)),
  }) as unknown as InferenceSession;
  const backend = { name: 'wasm', ort, threads: 1, createSession: async () => session, onLost: () => {} } as unknown as ExecutionBackend;
  return new Decoder(backend, session, model.shape);
}

/** Seeded random matrices for `lora`, B included (a zero B would make the adapter a no-op). */
function randomAdapter(lora: LoraOptions, seed: number, shape = loraShape): Float32Array[] {
  let s = seed;
  const rand = (): number => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  return adapterLayout(shape, lora).map((m) => Float32Array.from({ length: m.rows * m.cols }, () => rand() * 0.4));
}

function referenceLogits(lora: LoraOptions, values: Float32Array[], ids: number[]): Float32Array {
  const mats = new Map(adapterLayout(loraShape, lora).map((m, i) => [`${m.layer}.${m.target}.${m.which}`, Float64Array.from(values[i]!)]));
  return Float32Array.from(new ReferenceLora(reference).logits(ids, { rank: lora.rank, alpha: lora.alpha, mats }));
}

beforeAll(async () => {
  ({ model: reference } = await storiesReference());
});

describe('LoRA adapters on the inference graph (stories260K, fp32)', () => {
  it('logits with an adapter on every projection equal the float64 LoRA reference', async () => {
    const lora: LoraOptions = { rank: 2, alpha: 4, layers: 3, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] };
    const values = randomAdapter(lora, 11);
    const decoder = await openDecoder('model.onnx');
    decoder.useAdapter('a', loraFeeds(decoder.adapterShape!, lora, values));
    const got = (await decoder.prefill(PROMPT)).logits;
    const want = referenceLogits(lora, values, PROMPT);
    const base = referenceLogits(lora, values.map((v) => new Float32Array(v.length)), PROMPT);
    expect(maxAbsDiff(want, base)).toBeGreaterThan(0.1); // the adapter changes the output
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
  });

  it.each(['model.onnx', 'model_q4.onnx'])('without an adapter the rewritten %s gives the converted file’s logits', async (file) => {
    const decoder = await openDecoder(file);
    const plain = new Decoder(
      { name: 'wasm', ort, threads: 1, onLost: () => {} } as unknown as ExecutionBackend,
      (await ort.InferenceSession.create(join(STORIES_DIR, 'onnx', file))) as unknown as InferenceSession,
      SHAPE,
    );
    expect(maxAbsDiff((await decoder.prefill(PROMPT)).logits, (await plain.prefill(PROMPT)).logits)).toBe(0);
  });

  it('two adapters alternate on one session, each giving its own logits', async () => {
    const lora: LoraOptions = { rank: 4, alpha: 8, layers: 5, targets: ['q', 'v'] };
    const first = randomAdapter(lora, 3);
    const second = randomAdapter(lora, 5);
    sessions = 0;
    const decoder = await openDecoder('model.onnx');
    const shape = decoder.adapterShape!;
    const wantFirst = referenceLogits(lora, first, PROMPT);
    const wantSecond = referenceLogits(lora, second, PROMPT);
    expect(argmax(wantFirst)).not.toBe(argmax(wantSecond));
    for (const [name, values, want] of [['first', first, wantFirst], ['second', second, wantSecond], ['first', first, wantFirst], ['second', second, wantSecond]] as const) {
      decoder.useAdapter(name, loraFeeds(shape, lora, values));
      const runsBefore = runs;
      const got = (await decoder.prefill(PROMPT)).logits;
      expect(runs - runsBefore).toBe(1);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    }
    expect(sessions).toBe(1);
  });

  it('a prompt cached with one adapter is not reused by another', async () => {
    const lora: LoraOptions = { rank: 2, alpha: 2, layers: 5, targets: ['q', 'k', 'v', 'o'] };
    const values = randomAdapter(lora, 9);
    const decoder = await openDecoder('model.onnx');
    await decoder.prefill(PROMPT);
    decoder.useAdapter('a', loraFeeds(decoder.adapterShape!, lora, values));
    const withAdapter = await decoder.prefill([...PROMPT, 432]);
    expect(withAdapter.reused).toBe(0);
    expect(maxAbsDiff(withAdapter.logits, referenceLogits(lora, values, [...PROMPT, 432]))).toBeLessThan(1e-4);
  });
});

describe('LoRA adapters on SmolLM2-135M-Instruct', () => {
  // Its fp32 graph folds 1/√head_size into Wq; its q4 graph keeps the GGUF's blocks and scales the queries
  // in the graph. The rewrite must scale the q delta in the first case only, so both agree with an adapter.
  it('the fp32 graph (scale folded into Wq) and the q4 graph (queries scaled in the graph) agree with the same adapter', async () => {
    const dir = join(MODELS_DIR, 'smollm2-135m-instruct');
    const smolConfig = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const lora = loraGraphShape(smolConfig)!;
    const model = { dir, lora, shape: { layers: 30, kvHeads: 3, headDim: 64, vocabSize: 49152, contextLength: 8192 } };
    const options: LoraOptions = { rank: 4, alpha: 8, layers: 2, targets: ['q'] };
    const values = randomAdapter(options, 7, lora);
    const ids = [1, 9690, 198, 2683, 359, 253, 5356];
    const logits = async (file: string, adapter: boolean): Promise<Float32Array> => {
      const decoder = await openDecoder(file, model);
      if (adapter) decoder.useAdapter('a', loraFeeds(decoder.adapterShape!, options, values));
      return (await decoder.prefill(ids)).logits;
    };
    const fp32 = await logits('model.onnx', true);
    expect(maxAbsDiff(fp32, await logits('model.onnx', false))).toBeGreaterThan(0.5); // the adapter changes the output
    expect(maxAbsDiff(await logits('model_q4.onnx', true), fp32)).toBeLessThan(0.05);
  }, 300_000);
});
