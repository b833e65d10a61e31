import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkpointModel, parseLegacyCheckpoint } from '../../models/llama2c/checkpoint.ts';
import { buildLlamaTrainingGraph } from '../../models/onnx/llama-train.ts';
import { resolveSource, STORIES_260K } from '../../models/sources.ts';
import { adapterLayout, initAdapter, type LoraOptions } from '../../src/training/adapter.ts';
import { ADAMW_DEFAULTS } from '../../src/training/optimizer.ts';
import { graphStep, meanLoss, train, type TrainingExample, type TrainingStep, type TrainOptions } from '../../src/training/trainer.ts';
import { InvalidArgumentError } from '../../src/errors.ts';
import { storiesReference } from '../support/sources.ts';

const SHAPE = { nLayers: 5, dim: 64, hiddenDim: 172, qDim: 64, kvDim: 32 };
const LORA: LoraOptions = { rank: 4, alpha: 8, layers: 2, targets: ['q', 'k', 'v', 'o'] };
const OPTIONS: TrainOptions = { ...ADAMW_DEFAULTS, learningRate: 1e-2, warmupSteps: 5, steps: 30, batchSize: 2, seed: 3 };

// A made-up task: after any "there was a <animal>." the story goes on with the same invented sentence.
const ANIMALS = ['dog', 'cat', 'bird', 'fish', 'frog', 'bear', 'lion', 'duck', 'cow', 'pig', 'horse', 'bunny', 'mouse', 'fox'];
const COMPLETION = ' It said zip zop zup.';

describe('LoRA training loop on stories260K', () => {
  let step: TrainingStep;
  let trainSet: TrainingExample[];
  let heldOut: TrainingExample[];
  beforeAll(async () => {
    const { tokenizer } = await storiesReference();
    const examples = ANIMALS.map((animal) => {
      const prompt = tokenizer.encode(`Once upon a time, there was a ${animal}.`);
      const ids = tokenizer.encode(`Once upon a time, there was a ${animal}.${COMPLETION}`);
      expect(ids.slice(0, prompt.length)).toEqual(prompt);
      return { ids, mask: ids.map((_, t) => (t >= prompt.length ? 1 : 0)) };
    });
    trainSet = examples.slice(0, 10);
    heldOut = examples.slice(10);
    const model = checkpointModel(parseLegacyCheckpoint(await resolveSource(STORIES_260K.checkpoint)));
    const session = await ort.InferenceSession.create(buildLlamaTrainingGraph(model, LORA, 'test').bytes);
    step = graphStep(session, ort.Tensor, adapterLayout(SHAPE, LORA), { vocabSize: 512, contextLength: 512 });
  });

  const run = async (options: TrainOptions): Promise<{ adapter: Float32Array[]; losses: number[] }> => {
    const adapter = initAdapter(adapterLayout(SHAPE, LORA), 42);
    const reports = await train(step, adapter, trainSet, options);
    return { adapter, losses: reports.map((r) => r.loss) };
  };
  const bytes = (adapter: Float32Array[]): Buffer => Buffer.concat(adapter.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));

  it('gives identical adapter bytes for the same seed, data and options, and different bytes for another seed', async () => {
    const a = await run(OPTIONS);
    const b = await run(OPTIONS);
    const c = await run({ ...OPTIONS, seed: 4 });
    expect(bytes(a.adapter).equals(bytes(b.adapter))).toBe(true);
    expect(bytes(a.adapter).equals(bytes(c.adapter))).toBe(false);
  });

  it('lowers the training loss and the held-out loss over 30 steps', async () => {
    const zero = initAdapter(adapterLayout(SHAPE, LORA), 42);
    const trainBefore = await meanLoss(step, zero, trainSet);
    const heldBefore = await meanLoss(step, zero, heldOut);
    const { adapter, losses } = await run(OPTIONS);
    const trainAfter = await meanLoss(step, adapter, trainSet);
    const heldAfter = await meanLoss(step, adapter, heldOut);
    console.log(`train loss ${trainBefore.toFixed(3)} → ${trainAfter.toFixed(3)}; held-out ${heldBefore.toFixed(3)} → ${heldAfter.toFixed(3)}; batch losses ${losses.map((l) => l.toFixed(2)).join(' ')}`);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(trainAfter).toBeLessThan(trainBefore / 2);
    expect(heldAfter).toBeLessThan(heldBefore / 2);
  });

  it('rejects an example with no completion token with InvalidArgumentError, and trains normally afterwards', async () => {
    const adapter = initAdapter(adapterLayout(SHAPE, LORA), 42);
    const promptOnly = { ids: trainSet[0]!.ids, mask: trainSet[0]!.ids.map(() => 0) };
    await expect(step(promptOnly, adapter)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(step({ ids: [1, 600], mask: [0, 1] }, adapter)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(Number.isFinite((await step(trainSet[0]!, adapter)).loss)).toBe(true);
  });
});
