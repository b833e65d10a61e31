/**
 * The LoRA adapter's layout and initial values. The training graph (models/onnx/llama-train.ts) and the
 * optimiser both walk `adapterLayout`, so the order and the names of the graph's inputs and gradient
 * outputs are defined once, here.
 *
 * A linear layer y = x·Wᵀ becomes y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ with A [r, in] and B [out, r].
 */
import { mulberry32 } from '../util/random.ts';

export type LoraTarget = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';

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
