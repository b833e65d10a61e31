import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkpointModel, parseLegacyCheckpoint } from '../../models/llama2c/checkpoint.ts';
import { buildLlamaPrefixGraph, buildLlamaTrainingGraph } from '../../models/onnx/llama-train.ts';
import { resolveSource, STORIES_260K } from '../../models/sources.ts';
import { adapterLayout, initAdapter, type LoraOptions } from '../../src/training/adapter.ts';
import { graphStep, type TrainingExample, type TrainingStep } from '../../src/training/trainer.ts';
import { ReferenceLora } from '../reference/llama-lora.ts';
import type { ReferenceModel, ReferenceTokenizer } from '../reference/llama2c.ts';
import { NodeDecoder } from '../support/ort-node.ts';
import { STORIES_DIR, storiesReference } from '../support/sources.ts';

const SHAPE = { nLayers: 5, dim: 64, hiddenDim: 172, qDim: 64, kvDim: 32 };

async function trainingStep(lora: LoraOptions): Promise<TrainingStep> {
  const model = checkpointModel(parseLegacyCheckpoint(await resolveSource(STORIES_260K.checkpoint)));
  const session = await ort.InferenceSession.create(buildLlamaTrainingGraph(model, lora, 'test').bytes);
  return graphStep(session, ort.Tensor, adapterLayout(SHAPE, lora), { vocabSize: 512, contextLength: 512 });
}

/** Completion tokens (mask 1) from index `from` on. */
function example(tokenizer: ReferenceTokenizer, text: string, from: number): TrainingExample {
  const ids = tokenizer.encode(text);
  return { ids, mask: ids.map((_, t) => (t >= from ? 1 : 0)) };
}

describe('LoRA training graph on stories260K', () => {
  let reference: ReferenceModel;
  let tokenizer: ReferenceTokenizer;
  beforeAll(async () => {
    ({ model: reference, tokenizer } = await storiesReference());
  });

  it('gradients of every adapter parameter equal float64 central finite differences within relative 1e-3', async () => {
    // Every target on the top two layers, so the check also covers the backward from one adapted layer into the next.
    const lora: LoraOptions = { rank: 1, alpha: 2, layers: 2, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] };
    const layout = adapterLayout(SHAPE, lora);
    const step = await trainingStep(lora);
    // Random A and B (with B = 0 every A gradient would be 0), small enough to keep the model near its base.
    let seed = 7;
    const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const values = layout.map((m) => Float32Array.from({ length: m.rows * m.cols }, () => rand() * 0.3));
    const ref = new ReferenceLora(reference);
    const first = SHAPE.nLayers - lora.layers;
    const mats = new Map(layout.map((m, i) => [`${m.layer}.${m.target}.${m.which}`, Float64Array.from(values[i]!)]));
    const h = 1e-4;
    let worst = 0;
    let strict = 0;
    let checked = 0;
    for (const ex of [example(tokenizer, 'Once upon a time, there was a cat.', 5), example(tokenizer, 'Lily saw a big red ball.', 3)]) {
      const out = await step(ex, values);
      const residual = ref.residualBefore(ex.ids, first);
      const lossAt = (): number => ref.loss(ex.ids, ex.mask, { rank: lora.rank, alpha: lora.alpha, mats }, first, residual);
      expect(Math.abs(out.loss - lossAt())).toBeLessThan(1e-5);
      layout.forEach((m, i) => {
        const p = mats.get(`${m.layer}.${m.target}.${m.which}`)!;
        const fd = Array.from(p, (saved, j) => {
          p[j] = saved + h;
          const up = lossAt();
          p[j] = saved - h;
          const down = lossAt();
          p[j] = saved;
          return (up - down) / (2 * h);
        });
        // fp32 cannot resolve a gradient far below its matrix's largest, so those are judged against 1 % of it.
        const floor = 1e-2 * Math.max(...fd.map(Math.abs));
        fd.forEach((d, j) => {
          const diff = Math.abs(out.grads[i]![j]! - d);
          worst = Math.max(worst, diff / Math.max(Math.abs(d), floor));
          if (diff <= 1e-3 * Math.abs(d)) strict++;
          checked++;
        });
      });
    }
    console.log(`checked ${checked} gradients; worst relative error ${worst.toExponential(2)} (floor 1% of the matrix max); ${strict} within plain relative 1e-3`);
    expect(worst).toBeLessThan(1e-3);
  }, 600_000);

  it('with B = 0 the loss equals the fp32 inference model’s cross-entropy on the same tokens within 1e-5', async () => {
    const lora: LoraOptions = { rank: 4, alpha: 8, layers: 3, targets: ['q', 'k', 'v', 'o'] };
    const step = await trainingStep(lora);
    const ex = example(tokenizer, 'Once upon a time, there was a little girl named Lily. She loved to play outside.', 6);
    const { loss } = await step(ex, initAdapter(adapterLayout(SHAPE, lora), 1));
    const decoder = await NodeDecoder.open(join(STORIES_DIR, 'onnx/model.onnx'), { layers: 5, kvHeads: 4, headSize: 8, vocab: 512 });
    const logits = await decoder.feed(ex.ids);
    let total = 0;
    let count = 0;
    for (let t = 1; t < ex.ids.length; t++) {
      if (!ex.mask[t]) continue;
      const row = logits[t - 1]!;
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      total += Math.log(z) + max - row[ex.ids[t]!]!;
      count++;
    }
    console.log(`training-graph loss ${loss}, inference cross-entropy ${total / count} over ${count} tokens`);
    expect(Math.abs(loss - total / count)).toBeLessThan(1e-5);
  });

  it('the frozen-prefix split (prefix graph, then the adapted layers from its hidden states) gives the full graph’s loss and gradients', async () => {
    const lora: LoraOptions = { rank: 4, alpha: 8, layers: 2, targets: ['q', 'v', 'o', 'down'] };
    const layout = adapterLayout(SHAPE, lora);
    const model = checkpointModel(parseLegacyCheckpoint(await resolveSource(STORIES_260K.checkpoint)));
    const limits = { vocabSize: 512, contextLength: 512 };
    const full = graphStep(await ort.InferenceSession.create(buildLlamaTrainingGraph(model, lora, 'test').bytes), ort.Tensor, layout, limits);
    const split = graphStep(
      await ort.InferenceSession.create(buildLlamaTrainingGraph(model, lora, 'test', { frozenPrefix: 'input' }).bytes),
      ort.Tensor, layout, limits,
      await ort.InferenceSession.create(buildLlamaPrefixGraph(model, lora, 'test').bytes),
    );
    let seed = 11;
    const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const values = layout.map((m) => Float32Array.from({ length: m.rows * m.cols }, () => rand() * 0.3));
    const ex = example(tokenizer, 'Once upon a time, there was a little girl named Lily.', 4);
    const a = await full(ex, values);
    for (let visit = 0; visit < 2; visit++) {
      const b = await split(ex, values); // the second visit reuses the cached hidden states
      expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-6);
      a.grads.forEach((g, i) => g.forEach((v, j) => expect(Math.abs(v - b.grads[i]![j]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)))));
    }
  });

  it('onnxruntime-web’s WASM backend runs the same graph to the same loss and gradients as onnxruntime-node', async () => {
    const web = await import('onnxruntime-web');
    web.env.wasm.numThreads = 1;
    const lora: LoraOptions = { rank: 2, alpha: 4, layers: 2, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] };
    const layout = adapterLayout(SHAPE, lora);
    const limits = { vocabSize: 512, contextLength: 512 };
    const bytes = buildLlamaTrainingGraph(checkpointModel(parseLegacyCheckpoint(await resolveSource(STORIES_260K.checkpoint))), lora, 'test').bytes;
    const node = graphStep(await ort.InferenceSession.create(bytes), ort.Tensor, layout, limits);
    const wasm = graphStep(await web.InferenceSession.create(bytes, { executionProviders: ['wasm'] }), web.Tensor, layout, limits);
    const values = layout.map((m, k) => Float32Array.from({ length: m.rows * m.cols }, (_, i) => 0.2 * Math.sin(i + 7 * k)));
    const ex = example(tokenizer, 'Once upon a time, there was a cat.', 5);
    const a = await node(ex, values);
    const b = await wasm(ex, values);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5);
    let worst = 0;
    a.grads.forEach((g, i) => g.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b.grads[i]![j]!)))));
    expect(worst).toBeLessThan(1e-5);
  });
});
