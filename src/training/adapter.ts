/**
 * The LoRA adapter's layout and initial values. The training graph (models/onnx/llama-train.ts) and the
 * optimiser both walk `adapterLayout`, so the order and the names of the graph's inputs and gradient
 * outputs are defined once, here.
 *
 * A linear layer y = x·Wᵀ becomes y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ with A [r, in] and B [out, r].
 */
import { InvalidArgumentError } from '../errors.ts';
import { mulberry32 } from '../util/random.ts';

export type LoraTarget = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
export const LORA_TARGETS: readonly LoraTarget[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/**
 * The model folder's training graph (emitted by the converter): every target of the top
 * `trainableLayers` layers, symbolic rank, reading the frozen layers' output from `hidden`, which the
 * inference graph provides as `LORA_PREFIX_OUTPUT` (added at load by lora-graph.ts).
 */
export const TRAINING_GRAPH = 'training/model_lora.onnx';
export const LORA_PREFIX_OUTPUT = 'lora_prefix_hidden';
/** Only the top layers train: fewer layers hold fewer fp32 weights and run faster, and the frozen ones run once per example. */
export const trainableLayers = (nLayers: number): number => Math.min(nLayers, 6);

export interface LoraOptions {
  rank: number;
  alpha: number;
  /** How many of the top layers carry adapters (layers nLayers−K … nLayers−1); the rest stay frozen. */
  layers: number;
  targets: LoraTarget[];
}

/** An adapter as it is stored and exported: its options and every matrix, in layout order, as base64 of little-endian float32. */
export interface SavedAdapter extends LoraOptions {
  data: string;
}

/** The shapes that decide every adapter matrix's size. */
export interface AdapterShape {
  nLayers: number;
  dim: number;
  hiddenDim: number;
  qDim: number;
  kvDim: number;
}

export interface AdapterMatrix {
  /** Graph input name; its gradient output is `grad.` + name. */
  name: string;
  layer: number;
  target: LoraTarget;
  which: 'A' | 'B';
  rows: number;
  cols: number;
}

/** [out, in] of the linear layer each target adapts. */
export function targetShape(s: AdapterShape, t: LoraTarget): { out: number; in: number } {
  switch (t) {
    case 'q':
      return { out: s.qDim, in: s.dim };
    case 'k':
    case 'v':
      return { out: s.kvDim, in: s.dim };
    case 'o':
      return { out: s.dim, in: s.qDim };
    case 'gate':
    case 'up':
      return { out: s.hiddenDim, in: s.dim };
    case 'down':
      return { out: s.dim, in: s.hiddenDim };
  }
}

export const loraName = (layer: number, target: LoraTarget, which: 'A' | 'B'): string => `lora.${layer}.${target}.${which}`;
export const gradName = (input: string): string => `grad.${input}`;

export function adapterLayout(s: AdapterShape, o: LoraOptions): AdapterMatrix[] {
  if (!Number.isInteger(o.rank) || o.rank < 1) throw new RangeError(`LoRA rank must be a positive integer, got ${o.rank}`);
  if (!Number.isInteger(o.layers) || o.layers < 1 || o.layers > s.nLayers) throw new RangeError(`LoRA layers must be 1…${s.nLayers}, got ${o.layers}`);
  if (o.targets.length === 0) throw new RangeError('LoRA needs at least one target');
  const out: AdapterMatrix[] = [];
  for (let layer = s.nLayers - o.layers; layer < s.nLayers; layer++) {
    for (const target of o.targets) {
      const shape = targetShape(s, target);
      out.push({ name: loraName(layer, target, 'A'), layer, target, which: 'A', rows: o.rank, cols: shape.in });
      out.push({ name: loraName(layer, target, 'B'), layer, target, which: 'B', rows: shape.out, cols: o.rank });
    }
  }
  return out;
}

/** Initial adapter, as in the LoRA paper: A from a seeded normal with std 1/√in, B zero (so it starts as a no-op). */
export function initAdapter(layout: AdapterMatrix[], seed: number): Float32Array[] {
  const normal = seededNormal(seed);
  return layout.map((m) => {
    const values = new Float32Array(m.rows * m.cols);
    if (m.which === 'A') for (let i = 0; i < values.length; i++) values[i] = normal() / Math.sqrt(m.cols);
    return values;
  });
}

/** Standard normal samples by Box–Muller over mulberry32: the same sequence for a seed everywhere. */
export function seededNormal(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => {
    const u = 1 - uniform(); // (0, 1]: log(0) would be −∞
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

/** The adapter as stored in a skill: options plus its matrices as base64 of little-endian float32. */
export function saveAdapter(lora: LoraOptions, matrices: Float32Array[]): SavedAdapter {
  const bytes = new Uint8Array(matrices.reduce((n, m) => n + m.byteLength, 0));
  let o = 0;
  for (const m of matrices) {
    bytes.set(new Uint8Array(m.buffer, m.byteOffset, m.byteLength), o);
    o += m.byteLength;
  }
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { rank: lora.rank, alpha: lora.alpha, layers: lora.layers, targets: [...lora.targets], data: btoa(binary) };
}

/** The matrices of a saved adapter, checked against the layout its options give on `shape`. */
export function openAdapter(saved: SavedAdapter, shape: AdapterShape): { lora: LoraOptions; matrices: Float32Array[] } {
  const lora: LoraOptions = { rank: saved.rank, alpha: saved.alpha, layers: saved.layers, targets: saved.targets };
  let layout: AdapterMatrix[];
  try {
    layout = adapterLayout(shape, lora);
  } catch (cause) {
    throw new InvalidArgumentError(`the adapter does not fit this model: ${(cause as Error).message}`, { cause });
  }
  const binary = atob(saved.data);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const floats = new Float32Array(bytes.buffer);
  const expected = layout.reduce((n, m) => n + m.rows * m.cols, 0);
  if (floats.length !== expected) throw new InvalidArgumentError(`the adapter holds ${floats.length} values; its options on this model need ${expected}`, { details: { values: floats.length, expected } });
  let o = 0;
  return { lora, matrices: layout.map((m) => floats.slice(o, (o += m.rows * m.cols))) };
}
