import { mulberry32 } from '../../util/random.ts';

/**
 * Next-token choice: greedy when temperature is 0, else temperature, top-k and top-p sampling from a
 * seeded generator so that the same seed reproduces the same text. Repetition penalty follows the
 * CTRL/Hugging Face rule (divide positive logits, multiply negative ones).
 */
export interface SamplingOptions {
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed: number;
}

export class Sampler {
  private readonly random: () => number;
  private probs = new Float32Array(0);
  private order = new Int32Array(0);

  constructor(private readonly opts: SamplingOptions) {
    this.random = mulberry32(opts.seed);
  }

  /** `logits` may be modified in place. `seen` lists tokens for the repetition penalty. */
  next(logits: Float32Array, seen: Iterable<number>): number {
    const { repetitionPenalty, temperature } = this.opts;
    if (repetitionPenalty !== 1) {
      for (const id of new Set(seen)) {
        const v = logits[id]!;
        logits[id] = v > 0 ? v / repetitionPenalty : v * repetitionPenalty;
      }
    }
    if (temperature === 0) return argmax(logits);
    return this.sample(logits);
  }

  private sample(logits: Float32Array): number {
    const n = logits.length;
    if (this.probs.length !== n) {
      this.probs = new Float32Array(n);
      this.order = new Int32Array(n);
    }
    const { temperature, topK, topP } = this.opts;
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += this.probs[i] = Math.exp((logits[i]! - max) / temperature);

    // Candidates in descending probability; only as many as top-k / top-p can keep. Top-p alone first
    // tries the best 64 (almost always enough) before paying for a full sort of the vocabulary.
    const order = this.order;
    const probs = this.probs;
    let count = n;
    if (topK > 0 && topK < n) {
      partialSortDescending(order, probs, topK);
      count = topK;
    } else if (topP < 1) {
      const k = Math.min(n, 64);
      partialSortDescending(order, probs, k);
      let head = 0;
      for (let i = 0; i < k; i++) head += probs[order[i]!]!;
      if (head >= topP * sum) count = k;
      else {
        for (let i = 0; i < n; i++) order[i] = i;
        order.sort((a, b) => probs[b]! - probs[a]!);
      }
    } else {
      for (let i = 0; i < n; i++) order[i] = i;
    }
    let total = 0;
    for (let i = 0; i < count; i++) total += probs[order[i]!]!;
    if (topP < 1) {
      // Smallest prefix whose renormalised mass reaches top_p.
      let kept = 0;
      let cumulative = 0;
      while (kept < count && cumulative < topP * total) cumulative += probs[order[kept++]!]!;
      count = Math.max(1, kept);
      total = cumulative;
    }
    let r = this.random() * total;
    for (let i = 0; i < count; i++) {
      r -= probs[order[i]!]!;
      if (r <= 0) return order[i]!;
    }
    return order[count - 1]!;
  }
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let bestValue = values[0]!;
  for (let i = 1; i < values.length; i++) {
    if (values[i]! > bestValue) {
      bestValue = values[i]!;
      best = i;
    }
  }
  return best;
}

/** Writes the indices of the k largest weights to the front of `order`, sorted descending. */
function partialSortDescending(order: Int32Array, weights: Float32Array, k: number): void {
  // A sorted window of the best k seen so far: O(n·k) worst case, near O(n) for peaked distributions.
  const best = order.subarray(0, k);
  for (let i = 0; i < k; i++) best[i] = i;
  best.sort((a, b) => weights[b]! - weights[a]!);
  for (let i = k; i < order.length; i++) {
    const w = weights[i]!;
    if (w <= weights[best[k - 1]!]!) continue;
    let j = k - 1;
    while (j > 0 && weights[best[j - 1]!]! < w) {
      best[j] = best[j - 1]!;
      j--;
    }
    best[j] = i;
  }
}
