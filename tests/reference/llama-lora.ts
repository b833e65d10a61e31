/**
 * An independent float64 forward pass of a llama2.c model over a whole sequence with LoRA adapters on the
 * attention and MLP projections, returning the masked mean next-token cross-entropy. Used only by tests,
 * as the function whose central finite differences check the training graph's gradients. It shares no
 * code with models/ or src/training/ (only ReferenceModel's parsed checkpoint arrays).
 */
import type { ReferenceModel } from './llama2c.ts';

export type Target = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';

/** Adapter matrices keyed `${layer}.${target}.A` ([rank, in]) and `.B` ([out, rank]), row-major. */
export interface ReferenceAdapter {
  rank: number;
  alpha: number;
  mats: Map<string, Float64Array>;
}

type Rows = Float64Array[];

export class ReferenceLora {
  constructor(private readonly m: ReferenceModel) {}

  /** The residual stream entering `layer` (computed without adapters), one row per position. */
  residualBefore(ids: number[], layer: number): Rows {
    let x: Rows = ids.map((id) => Float64Array.from(this.m.w.emb!.subarray(id * this.m.dim, (id + 1) * this.m.dim)));
    for (let l = 0; l < layer; l++) x = this.layer(x, l, null);
    return x;
  }

  /** Σ mask[t]·(−log p(ids[t] | ids[<t])) / Σ mask[t] over t ≥ 1, starting from the residual entering `from`. */
  loss(ids: number[], mask: number[], adapter: ReferenceAdapter | null, from = 0, residual?: Rows): number {
    let x = residual ? residual.map((r) => Float64Array.from(r)) : this.residualBefore(ids, from);
    for (let l = from; l < this.m.layers; l++) x = this.layer(x, l, adapter);
    let total = 0;
    let count = 0;
    for (let t = 0; t + 1 < ids.length; t++) {
      if (!mask[t + 1]) continue;
      const logits = this.head(x[t]!);
      const max = Math.max(...logits);
      let z = 0;
      for (const l of logits) z += Math.exp(l - max);
      total += mask[t + 1]! * (Math.log(z) + max - logits[ids[t + 1]!]!);
      count += mask[t + 1]!;
    }
    return total / count;
  }

  /** Logits after the last id of `ids`, with the adapter on every layer it has matrices for. */
  logits(ids: number[], adapter: ReferenceAdapter | null): Float64Array {
    let x = this.residualBefore(ids, 0);
    for (let l = 0; l < this.m.layers; l++) x = this.layer(x, l, adapter);
    return this.head(x.at(-1)!);
  }

  /** The tied LM head on the final-normed residual row. */
  private head(row: Float64Array): Float64Array {
    const { dim, vocab } = this.m;
    const h = rmsnorm(row, this.m.w.rmsFinal!);
    const logits = new Float64Array(vocab);
    for (let v = 0; v < vocab; v++) {
      let sum = 0;
      for (let j = 0; j < dim; j++) sum += this.m.w.emb![v * dim + j]! * h[j]!;
      logits[v] = sum;
    }
    return logits;
  }

  private layer(x: Rows, l: number, adapter: ReferenceAdapter | null): Rows {
    const { dim, hidden, heads, kvHeads } = this.m;
    const w = this.m.w;
    const hs = dim / heads;
    const kvDim = hs * kvHeads;
    const lin = (t: Target, input: Float64Array, weights: Float32Array, out: number, inDim: number, offset: number): Float64Array =>
      linear(input, weights, out, inDim, offset, adapter, `${l}.${t}`);
    const n1 = x.map((r) => rmsnorm(r, w.rmsAtt!.subarray(l * dim, (l + 1) * dim)));
    const q = n1.map((h, pos) => rope(lin('q', h, w.wq!, dim, dim, l * dim * dim), pos, hs));
    const k = n1.map((h, pos) => rope(lin('k', h, w.wk!, kvDim, dim, l * kvDim * dim), pos, hs));
    const v = n1.map((h) => lin('v', h, w.wv!, kvDim, dim, l * kvDim * dim));
    return x.map((row, pos) => {
      const ctx = new Float64Array(dim);
      for (let h = 0; h < heads; h++) {
        const kvh = Math.floor(h / (heads / kvHeads));
        const scores = new Float64Array(pos + 1);
        for (let t = 0; t <= pos; t++) {
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[pos]![h * hs + i]! * k[t]![kvh * hs + i]!;
          scores[t] = s / Math.sqrt(hs);
        }
        const max = Math.max(...scores);
        let z = 0;
        for (let t = 0; t <= pos; t++) z += scores[t] = Math.exp(scores[t]! - max);
        for (let t = 0; t <= pos; t++) for (let i = 0; i < hs; i++) ctx[h * hs + i]! += (scores[t]! / z) * v[t]![kvh * hs + i]!;
      }
      const o = lin('o', ctx, w.wo!, dim, dim, l * dim * dim);
      const mid = row.map((r, i) => r + o[i]!);
      const n2 = rmsnorm(mid, w.rmsFfn!.subarray(l * dim, (l + 1) * dim));
      const gate = lin('gate', n2, w.w1!, hidden, dim, l * hidden * dim);
      const up = lin('up', n2, w.w3!, hidden, dim, l * hidden * dim);
      const gated = gate.map((a, i) => (a / (1 + Math.exp(-a))) * up[i]!);
      const down = lin('down', gated, w.w2!, dim, hidden, l * dim * hidden);
      return mid.map((r, i) => r + down[i]!);
    });
  }
}

/** y = W·x + (α/r)·B·(A·x) for W [out, in] at `offset`; no adapter term where the adapter has no matrices. */
function linear(x: Float64Array, w: Float32Array, out: number, inDim: number, offset: number, adapter: ReferenceAdapter | null, key: string): Float64Array {
  const y = new Float64Array(out);
  for (let i = 0; i < out; i++) {
    let s = 0;
    for (let j = 0; j < inDim; j++) s += w[offset + i * inDim + j]! * x[j]!;
    y[i] = s;
  }
  const a = adapter?.mats.get(`${key}.A`);
  const b = adapter?.mats.get(`${key}.B`);
  if (!adapter || !a || !b) return y;
  const r = adapter.rank;
  const z = new Float64Array(r);
  for (let k = 0; k < r; k++) for (let j = 0; j < inDim; j++) z[k]! += a[k * inDim + j]! * x[j]!;
  for (let i = 0; i < out; i++) for (let k = 0; k < r; k++) y[i]! += (adapter.alpha / r) * b[i * r + k]! * z[k]!;
  return y;
}

function rmsnorm(x: Float64Array, gamma: Float32Array): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const scale = 1 / Math.sqrt(ss / x.length + 1e-5);
  return x.map((v, i) => gamma[i]! * v * scale);
}

/** run.c's RoPE: adjacent pairs of each head rotated by pos·10000^(−(i mod hs)/hs). */
function rope(x: Float64Array, pos: number, hs: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += 2) {
    const angle = pos / Math.pow(10000, (i % hs) / hs);
    const [c, s] = [Math.cos(angle), Math.sin(angle)];
    out[i] = x[i]! * c - x[i + 1]! * s;
    out[i + 1] = x[i]! * s + x[i + 1]! * c;
  }
  return out;
}
