/**
 * An adapter (LoRA matrices in adapterLayout order) as the inference graph's LoRA inputs (lora-graph.ts):
 * per fused projection Aᵀ [in, R] and (α/r)·Bᵀ [R, out]. The fused qkv projection stacks the q, k and v
 * adapters: its Aᵀ puts their columns side by side and its Bᵀ is block-diagonal, so one pair of MatMuls
 * adds all three deltas. Projections without an adapter are left out (the decoder feeds zeros).
 */
import { adapterLayout, type AdapterShape, type LoraOptions, type LoraTarget } from './adapter.ts';
import { loraInputName, slotShape, type LoraSlot } from './lora-graph.ts';

export interface LoraFeed {
  dims: [number, number];
  data: Float32Array;
}

/** The targets each fused projection of the graph carries, in its output order. */
const SLOT_TARGETS: Array<[LoraSlot, LoraTarget[]]> = [['qkv', ['q', 'k', 'v']], ['o', ['o']], ['gate', ['gate']], ['up', ['up']], ['down', ['down']]];

export function loraFeeds(shape: AdapterShape, options: LoraOptions, matrices: Float32Array[]): Map<string, LoraFeed> {
  const layout = adapterLayout(shape, options);
  const byKey = new Map(layout.map((m, i) => [`${m.layer}.${m.target}.${m.which}`, matrices[i]!]));
  const scale = options.alpha / options.rank;
  const r = options.rank;
  const feeds = new Map<string, LoraFeed>();
  for (let layer = shape.nLayers - options.layers; layer < shape.nLayers; layer++) {
    for (const [slot, all] of SLOT_TARGETS) {
      const targets = all.filter((t) => options.targets.includes(t));
      if (targets.length === 0) continue;
      const io = slotShape(shape, slot);
      const rank = r * targets.length;
      const aT = new Float32Array(io.in * rank);
      const bT = new Float32Array(rank * io.out);
      targets.forEach((t, k) => {
        const a = byKey.get(`${layer}.${t}.A`)!; // [r, in]
        const b = byKey.get(`${layer}.${t}.B`)!; // [out_t, r]
        const outT = b.length / r;
        const col0 = outputOffset(shape, t);
        for (let j = 0; j < r; j++) {
          for (let i = 0; i < io.in; i++) aT[i * rank + k * r + j] = a[j * io.in + i]!;
          for (let o = 0; o < outT; o++) bT[(k * r + j) * io.out + col0 + o] = scale * b[o * r + j]!;
        }
      });
      feeds.set(loraInputName(layer, slot, 'A'), { dims: [io.in, rank], data: aT });
      feeds.set(loraInputName(layer, slot, 'B'), { dims: [rank, io.out], data: bT });
    }
  }
  return feeds;
}

/** Where a target's output columns start inside its fused projection (q, then k, then v). */
function outputOffset(s: AdapterShape, t: LoraTarget): number {
  return t === 'k' ? s.qDim : t === 'v' ? s.qDim + s.kvDim : 0;
}
