/**
 * Embeddings and classification on a decoder LM: mean-pooled final hidden states as features, zero-shot
 * labels scored by their likelihood under the model, and a softmax head trained in TypeScript on the
 * user's own labelled examples (seeded, with a held-out split and early stopping).
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { ContextOverflowError, InvalidArgumentError, SlmError } from '../../errors.ts';
import type { Decoder } from '../generation/decoder.ts';
import { mulberry32 } from '../../util/random.ts';

export interface ClassifierHead {
  labels: string[];
  dim: number;
  /** Per-dimension standardisation learnt from the training split: x' = (x − mean) / std. */
  mean: number[];
  std: number[];
  /** [labels × dim], row-major. */
  weights: number[];
  bias: number[];
}

export interface TrainingReport {
  head: ClassifierHead;
  trainSize: number;
  validationSize: number;
  /** Accuracy on the held-out examples; chance is 1 / labels for balanced data. */
  accuracy: number;
  /** confusion[actual][predicted] counts on the held-out examples, in `head.labels` order. */
  confusion: number[][];
  epochs: number;
}

export interface TrainOptions {
  seed?: number;
  /** Fraction of each label's examples held out for evaluation and early stopping (default 0.25). */
  validationSplit?: number;
  maxEpochs?: number;
  learningRate?: number;
}

export interface TrainProgress {
  epoch: number;
  maxEpochs: number;
  trainLoss: number;
  validationLoss: number;
}

/** Throws unless `examples` are labelled texts to train on. */
export function checkExamples(examples: unknown): asserts examples is Array<{ text: string; label: string }> {
  if (!Array.isArray(examples) || examples.length === 0) throw new InvalidArgumentError('training needs labelled examples; got none');
  for (const [i, e] of examples.entries()) {
    if (typeof e?.label !== 'string' || e.label.trim() === '') throw new InvalidArgumentError(`examples[${i}].label must be a non-empty string`);
  }
}

/** Throws unless `head` is a trained head whose parts agree in size. */
export function checkHead(head: ClassifierHead): void {
  const valid =
    Array.isArray(head?.labels) && head.labels.length >= 2 && head.weights?.length === head.labels.length * head.dim && head.bias?.length === head.labels.length && head.mean?.length === head.dim && head.std?.length === head.dim;
  if (!valid) throw new InvalidArgumentError('head is not a trained classifier head (labels, dim, mean, std, weights, bias)');
}

function encodeChecked(tokenizer: PreTrainedTokenizer, text: unknown, contextLength: number): number[] {
  if (typeof text !== 'string' || text.trim() === '') throw new InvalidArgumentError('each text must be a non-empty string');
  const ids = tokenizer.encode(text);
  if (ids.length > contextLength) throw new ContextOverflowError(`a text is ${ids.length} tokens; the context is ${contextLength}`, { details: { tokens: ids.length, contextLength } });
  return ids;
}

/** L2-normalised mean of the final hidden states over the text's tokens (BOS excluded). */
export async function embed(decoder: Decoder, tokenizer: PreTrainedTokenizer, text: string): Promise<Float32Array> {
  if (!decoder.hasHiddenStates) throw new SlmError('this model does not export last_hidden_state; embeddings need a model converted by this project');
  const ids = encodeChecked(tokenizer, text, decoder.shape.contextLength);
  const { hidden } = await decoder.forward(ids);
  const dim = hidden!.length / ids.length;
  const first = ids[0] === tokenizer.bos_token_id && ids.length > 1 ? 1 : 0;
  const out = new Float32Array(dim);
  for (let p = first; p < ids.length; p++) for (let i = 0; i < dim; i++) out[i]! += hidden![p * dim + i]!;
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += out[i]! * out[i]!;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dim; i++) out[i]! /= norm;
  return out;
}

/** The prompt zero-shot classification scores labels after. */
export function zeroShotPrompt(text: string): string {
  return `${text}\nThis story is about`;
}

/** P(label | text) from each label's mean token log-likelihood after zeroShotPrompt(text), normalised over the labels. */
export async function zeroShot(decoder: Decoder, tokenizer: PreTrainedTokenizer, text: string, labels: string[]): Promise<Record<string, number>> {
  checkLabels(labels);
  const prompt = encodeChecked(tokenizer, zeroShotPrompt(text), decoder.shape.contextLength);
  const v = decoder.shape.vocabSize;
  const scores: number[] = [];
  for (const label of labels) {
    const labelIds = tokenizer.encode(label, { add_special_tokens: false });
    const ids = [...prompt, ...labelIds];
    if (ids.length > decoder.shape.contextLength) throw new ContextOverflowError(`text and label exceed the context of ${decoder.shape.contextLength} tokens`);
    const { logits } = await decoder.forward(ids);
    let sum = 0;
    labelIds.forEach((id, j) => {
      const row = logits.subarray((prompt.length - 1 + j) * v, (prompt.length + j) * v);
      let max = -Infinity;
      for (let i = 0; i < v; i++) if (row[i]! > max) max = row[i]!;
      let z = 0;
      for (let i = 0; i < v; i++) z += Math.exp(row[i]! - max);
      sum += row[id]! - max - Math.log(z);
    });
    scores.push(sum / labelIds.length);
  }
  const probs = softmax(scores);
  return Object.fromEntries(labels.map((l, i) => [l, probs[i]!]));
}

function checkLabels(labels: unknown): asserts labels is string[] {
  if (!Array.isArray(labels) || labels.some((l) => typeof l !== 'string' || l.trim() === '')) throw new InvalidArgumentError('labels must be non-empty strings');
  if (new Set(labels).size < 2) throw new InvalidArgumentError(`classification needs at least 2 distinct labels; got ${new Set(labels).size}`);
}

export function softmax(x: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]!);
  const e = Array.from(x, (v) => Math.exp(v - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

export function predict(head: ClassifierHead, features: ArrayLike<number>): number[] {
  const logits = head.labels.map((_, c) => {
    let s = head.bias[c]!;
    for (let i = 0; i < head.dim; i++) s += head.weights[c * head.dim + i]! * ((features[i]! - head.mean[i]!) / head.std[i]!);
    return s;
  });
  return softmax(logits);
}

/**
 * Trains a softmax head on (features, label) pairs with full-batch Adam and L2 regularisation. Each
 * label's examples are shuffled with the seed and split train/held-out; training stops when the held-out
 * loss has not improved for 25 epochs, keeping the best head. Same seed, same data → same head.
 */
export function trainHead(features: Float32Array[], labelsOf: string[], options: TrainOptions = {}, onProgress?: (p: TrainProgress) => void): TrainingReport {
  if (features.length === 0) throw new InvalidArgumentError('training needs labelled examples; got none');
  const labels = [...new Set(labelsOf)].sort();
  checkLabels(labels);
  const { seed = 1, validationSplit = 0.25, maxEpochs = 400, learningRate = 0.05 } = options;
  if (!(validationSplit > 0 && validationSplit < 1)) throw new InvalidArgumentError('validationSplit must be between 0 and 1');
  const rand = mulberry32(seed);
  const dim = features[0]!.length;
  const train: number[] = [];
  const held: number[] = [];
  for (const label of labels) {
    const idx = labelsOf.flatMap((l, i) => (l === label ? [i] : []));
    if (idx.length < 2) throw new InvalidArgumentError(`label "${label}" needs at least 2 examples (one to train, one to check); got ${idx.length}`);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    const nHeld = Math.max(1, Math.round(idx.length * validationSplit));
    held.push(...idx.slice(0, nHeld));
    train.push(...idx.slice(nHeld));
  }
  const target = labelsOf.map((l) => labels.indexOf(l));
  const C = labels.length;
  // Standardise with training statistics only, so the held-out score stays honest.
  const mean = new Array<number>(dim).fill(0);
  const std = new Array<number>(dim).fill(0);
  for (const i of train) for (let k = 0; k < dim; k++) mean[k]! += features[i]![k]! / train.length;
  for (const i of train) for (let k = 0; k < dim; k++) std[k]! += (features[i]![k]! - mean[k]!) ** 2 / train.length;
  for (let k = 0; k < dim; k++) std[k] = Math.sqrt(std[k]!) || 1;
  const W = Array.from({ length: C * dim }, () => (rand() - 0.5) * 0.01);
  const b = new Array<number>(C).fill(0);
  const m = new Array<number>(W.length + C).fill(0);
  const s = new Array<number>(W.length + C).fill(0);
  const l2 = 1e-3;
  const current = (): ClassifierHead => ({ labels, dim, mean, std, weights: W, bias: b });
  const head = (): ClassifierHead => ({ labels, dim, mean, std, weights: [...W], bias: [...b] });
  const loss = (set: number[]): number => set.reduce((acc, i) => acc - Math.log(Math.max(1e-12, predict(current(), features[i]!)[target[i]!]!)), 0) / set.length;
  let best = { loss: Infinity, head: head(), epoch: 0 };
  let epoch = 0;
  for (epoch = 1; epoch <= maxEpochs; epoch++) {
    const gW = new Array<number>(W.length).fill(0);
    const gb = new Array<number>(C).fill(0);
    for (const i of train) {
      const p = predict(current(), features[i]!);
      for (let c = 0; c < C; c++) {
        const d = (p[c]! - (c === target[i] ? 1 : 0)) / train.length;
        gb[c]! += d;
        for (let k = 0; k < dim; k++) gW[c * dim + k]! += (d * (features[i]![k]! - mean[k]!)) / std[k]!;
      }
    }
    const update = (arr: number[], grad: number[], offset: number, decay: number): void => {
      for (let k = 0; k < arr.length; k++) {
        const g = grad[k]! + decay * arr[k]!;
        m[offset + k] = 0.9 * m[offset + k]! + 0.1 * g;
        s[offset + k] = 0.999 * s[offset + k]! + 0.001 * g * g;
        const mh = m[offset + k]! / (1 - 0.9 ** epoch);
        const sh = s[offset + k]! / (1 - 0.999 ** epoch);
        arr[k] = arr[k]! - (learningRate * mh) / (Math.sqrt(sh) + 1e-8);
      }
    };
    update(W, gW, 0, l2);
    update(b, gb, W.length, 0);
    const validationLoss = loss(held);
    if (validationLoss < best.loss - 1e-6) best = { loss: validationLoss, head: head(), epoch };
    if (epoch % 10 === 0 || epoch === 1) onProgress?.({ epoch, maxEpochs, trainLoss: loss(train), validationLoss });
    if (epoch - best.epoch >= 25) break;
  }
  const confusion = labels.map(() => new Array<number>(C).fill(0));
  let correct = 0;
  for (const i of held) {
    const p = predict(best.head, features[i]!);
    const guess = p.indexOf(Math.max(...p));
    confusion[target[i]!]![guess]!++;
    if (guess === target[i]) correct++;
  }
  return { head: best.head, trainSize: train.length, validationSize: held.length, accuracy: correct / held.length, confusion, epochs: Math.min(epoch, maxEpochs) };
}

