import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkpointModel, parseLegacyCheckpoint } from '../../models/llama2c/checkpoint.ts';
import { buildLlamaTrainingGraph } from '../../models/onnx/llama-train.ts';
import { resolveSource, STORIES_260K } from '../../models/sources.ts';
import { adapterLayout, gradName, type LoraOptions } from '../../src/training/adapter.ts';
import { ReferenceLora, type ReferenceAdapter } from '../reference/llama-lora.ts';
import type { ReferenceModel, ReferenceTokenizer } from '../reference/llama2c.ts';
import { NodeDecoder } from '../support/ort-node.ts';
import { STORIES_DIR, storiesReference } from '../support/sources.ts';

const SHAPE = { nLayers: 5, dim: 64, hiddenDim: 172, qDim: 64, kvDim: 32 };

async function trainingSession(lora: LoraOptions): Promise<ort.InferenceSession> {
  const model = checkpointModel(parseLegacyCheckpoint(await resolveSource(STORIES_260K.checkpoint)));
  return ort.InferenceSession.create(buildLlamaTrainingGraph(model, lora, 'test').bytes);
}

function feeds(ids: number[], mask: number[], names: string[], values: Float32Array[], layout: { rows: number; cols: number }[]): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    loss_mask: new ort.Tensor('float32', Float32Array.from(mask), [1, mask.length]),
  };
  names.forEach((n, i) => (f[n] = new ort.Tensor('float32', values[i]!, [layout[i]!.rows, layout[i]!.cols])));
  return f;
}

describe('LoRA training graph on stories260K', () => {
  let reference: ReferenceModel;
  let tokenizer: ReferenceTokenizer;
  beforeAll(async () => {
    ({ model: reference, tokenizer } = await storiesReference());
  });

  it('gradients of every adapter parameter equal float64 central finite differences within relative 1e-3', async () => {
    const lora: LoraOptions = { rank: 2, alpha: 4, layers: 2, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] };
    const layout = adapterLayout(SHAPE, lora);
    const session = await trainingSession(lora);
    // Random A and B (B = 0 would zero every A gradient), small enough to keep the model near its base.
    let seed = 7;
    const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const values = layout.map((m) => Float32Array.from({ length: m.rows * m.cols }, () => rand() * 0.3));
    const ids = tokenizer.encode('Once upon a time, there was a cat. The cat was sad.');
    const mask = ids.map((_, t) => (t >= 6 ? 1 : 0));
    const out = await session.run(feeds(ids, mask, layout.map((m) => m.name), values, layout));

    const ref = new ReferenceLora(reference);
    const first = SHAPE.nLayers - lora.layers;
    const residual = ref.residualBefore(ids, first);
    const mats = new Map(layout.map((m, i) => [`${m.layer}.${m.target}.${m.which}`, Float64Array.from(values[i]!)]));
    const adapter: ReferenceAdapter = { rank: lora.rank, alpha: lora.alpha, mats };
    const lossAt = (): number => ref.loss(ids, mask, adapter, first, residual);
    expect(Math.abs((out.loss!.data as Float32Array)[0]! - lossAt())).toBeLessThan(1e-5);
    const h = 1e-4;
    let worst = 0;
    let checked = 0;
    layout.forEach((m, i) => {
      const p = mats.get(`${m.layer}.${m.target}.${m.which}`)!;
      const grad = out[gradName(m.name)]!.data as Float32Array;
      expect(grad.length).toBe(p.length);
      let maxFd = 0;
      const fd = Array.from(p, (_, j) => {
        const saved = p[j]!;
        p[j] = saved + h;
        const up = lossAt();
        p[j] = saved - h;
        const down = lossAt();
        p[j] = saved;
        const d = (up - down) / (2 * h);
        maxFd = Math.max(maxFd, Math.abs(d));
        return d;
      });
      fd.forEach((d, j) => {
        const err = Math.abs(grad[j]! - d) / Math.max(Math.abs(d), 1e-3 * maxFd, 1e-6);
        worst = Math.max(worst, err);
        checked++;
      });
    });
    console.log(`checked ${checked} adapter parameters; worst relative error ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-3);
  }, 300_000);
});
