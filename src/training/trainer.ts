/**
 * The LoRA training loop around the training graph (models/onnx/llama-train.ts): feeds one example at a
 * time, averages gradients over a batch, and steps AdamW. Works with onnxruntime-node and onnxruntime-web
 * alike: the caller passes the session and its package's Tensor class.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { InvalidArgumentError } from '../errors.ts';
import { mulberry32 } from '../util/random.ts';
import { gradName, type AdapterMatrix } from './adapter.ts';
import { adamWState, adamWStep, type AdamWOptions } from './optimizer.ts';

/** Token ids and the loss mask: mask[t] = 1 when predicting ids[t] (from position t−1) counts. */
export interface TrainingExample {
  ids: number[];
  mask: number[];
}

export interface LossAndGradients {
  loss: number;
  grads: Float32Array[];
}

export type TrainingStep = (example: TrainingExample, adapter: Float32Array[]) => Promise<LossAndGradients>;

type TensorClass = new (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: readonly number[]) => Tensor;

/** What the graph's model accepts: token ids below `vocabSize`, sequences up to `contextLength`. */
export interface ModelLimits {
  vocabSize: number;
  contextLength: number;
}

/** Rejects an example the graph would silently mis-handle (a loss of NaN, an out-of-range Gather). */
export function validateExample(e: TrainingExample, limits: ModelLimits): void {
  if (e.ids.length !== e.mask.length) throw new InvalidArgumentError(`an example has ${e.ids.length} token ids but ${e.mask.length} mask values`);
  if (e.ids.length < 2 || e.ids.length > limits.contextLength) {
    throw new InvalidArgumentError(`an example has ${e.ids.length} tokens; training needs 2…${limits.contextLength}`, { details: { tokens: e.ids.length, contextLength: limits.contextLength } });
  }
  if (!e.ids.every((id) => Number.isInteger(id) && id >= 0 && id < limits.vocabSize)) throw new InvalidArgumentError(`an example has a token id outside 0…${limits.vocabSize - 1}`);
  if (!e.mask.slice(1).some((m) => m > 0)) throw new InvalidArgumentError('an example has no completion token to learn (its loss mask is 0 after the first token)');
}

/**
 * One run of the training graph: the example's loss and the gradient of every adapter matrix, in layout order.
 * With `prefix` (a session of buildLlamaPrefixGraph, for a graph built with frozenPrefix 'input'), the frozen
 * layers run once per example and their output is reused on every later visit of the same example object.
 */
export function graphStep(session: InferenceSession, TensorCtor: TensorClass, layout: AdapterMatrix[], limits: ModelLimits, prefix?: InferenceSession): TrainingStep {
  const outputs = ['loss', ...layout.map((m) => gradName(m.name))];
  const hidden = new WeakMap<TrainingExample, Tensor>();
  return async (example, adapter) => {
    validateExample(example, limits);
    const feeds: Record<string, Tensor> = {
      input_ids: new TensorCtor('int64', BigInt64Array.from(example.ids, BigInt), [1, example.ids.length]),
      loss_mask: new TensorCtor('float32', Float32Array.from(example.mask), [1, example.mask.length]),
    };
    if (prefix) {
      if (!hidden.has(example)) hidden.set(example, (await prefix.run({ input_ids: feeds.input_ids! })).hidden!);
      feeds.hidden = hidden.get(example)!;
    }
    layout.forEach((m, i) => (feeds[m.name] = new TensorCtor('float32', adapter[i]!, [m.rows, m.cols])));
    const out = await session.run(feeds, outputs);
    return {
      loss: (out.loss!.data as Float32Array)[0]!,
      grads: layout.map((m) => out[gradName(m.name)]!.data as Float32Array),
    };
  };
}

export interface TrainOptions extends AdamWOptions {
  steps: number;
  /** Examples whose gradients are averaged into one optimiser step. */
  batchSize: number;
  /** Seeds the example order (the adapter's initial values are the caller's). */
  seed: number;
}

export interface StepReport {
  step: number;
  /** Mean loss of the batch, before the update. */
  loss: number;
  gradNorm: number;
  learningRate: number;
}

/** Trains `adapter` in place for `options.steps` steps over `examples`, visited in seeded shuffled epochs. */
export async function train(run: TrainingStep, adapter: Float32Array[], examples: TrainingExample[], options: TrainOptions, onStep?: (r: StepReport) => void | Promise<void>): Promise<StepReport[]> {
  const state = adamWState(adapter);
  const order = shuffledEpochs(examples.length, options.seed);
  const reports: StepReport[] = [];
  for (let step = 1; step <= options.steps; step++) {
    const sum = adapter.map((p) => new Float32Array(p.length));
    let loss = 0;
    for (let b = 0; b < options.batchSize; b++) {
      const out = await run(examples[order()]!, adapter);
      loss += out.loss / options.batchSize;
      out.grads.forEach((g, k) => {
        const s = sum[k]!;
        for (let i = 0; i < g.length; i++) s[i] = s[i]! + g[i]! / options.batchSize;
      });
    }
    const { gradNorm, learningRate } = adamWStep(adapter, sum, state, options);
    const report = { step, loss, gradNorm, learningRate };
    reports.push(report);
    await onStep?.(report);
  }
  return reports;
}

/** Mean loss over `examples` with the adapter as it is (the gradients are computed and dropped). */
export async function meanLoss(run: TrainingStep, adapter: Float32Array[], examples: TrainingExample[]): Promise<number> {
  let total = 0;
  for (const e of examples) total += (await run(e, adapter)).loss;
  return total / examples.length;
}

/** Yields example indices: a Fisher–Yates shuffle of all of them, then a fresh shuffle, and so on. */
function shuffledEpochs(n: number, seed: number): () => number {
  const rand = mulberry32(seed);
  let order: number[] = [];
  return () => {
    if (order.length === 0) {
      order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    return order.shift()!;
  };
}
