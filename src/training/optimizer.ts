/**
 * AdamW with linear warm-up and global gradient-norm clipping, over the adapter's Float32Arrays.
 * Plain arithmetic in a fixed order, so the same gradients give the same bytes on every run and platform.
 */
export interface AdamWOptions {
  learningRate: number;
  /** Steps over which the learning rate rises linearly from learningRate/warmupSteps to learningRate. */
  warmupSteps: number;
  /**
   * With it, the rate falls from learningRate after the warm-up to 0 at this step along a half cosine
   * (the last steps make small moves, so the adapter settles instead of ending on one example's jolt).
   */
  decaySteps?: number;
  /** Gradients are scaled down together when their global L2 norm exceeds this. */
  maxGradNorm: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const ADAMW_DEFAULTS: Omit<AdamWOptions, 'learningRate'> = { warmupSteps: 10, maxGradNorm: 1, weightDecay: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export interface AdamWState {
  /** Steps taken so far. */
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export function adamWState(params: Float32Array[]): AdamWState {
  return { step: 0, m: params.map((p) => new Float32Array(p.length)), v: params.map((p) => new Float32Array(p.length)) };
}

/** The learning rate of step `step` (1-based). */
export function learningRateAt(step: number, o: AdamWOptions): number {
  if (o.warmupSteps > 0 && step <= o.warmupSteps) return (o.learningRate * step) / o.warmupSteps;
  if (o.decaySteps === undefined || o.decaySteps <= o.warmupSteps) return o.learningRate;
  const progress = Math.min(1, (step - o.warmupSteps) / (o.decaySteps - o.warmupSteps));
  return o.learningRate * 0.5 * (1 + Math.cos(Math.PI * progress));
}

export function globalNorm(grads: Float32Array[]): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  return Math.sqrt(sum);
}

/**
 * One AdamW step: clips `grads` by global norm, then updates `params` and `state` in place (the adapter is
 * the only copy worth keeping; allocating per step would churn megabytes). Returns the pre-clip norm and the
 * learning rate used.
 */
export function adamWStep(params: Float32Array[], grads: Float32Array[], state: AdamWState, o: AdamWOptions): { gradNorm: number; learningRate: number } {
  const gradNorm = globalNorm(grads);
  const clip = gradNorm > o.maxGradNorm ? o.maxGradNorm / gradNorm : 1;
  const step = ++state.step;
  const lr = learningRateAt(step, o);
  const c1 = 1 - Math.pow(o.beta1, step);
  const c2 = 1 - Math.pow(o.beta2, step);
  params.forEach((p, k) => {
    const g = grads[k]!;
    const m = state.m[k]!;
    const v = state.v[k]!;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * clip;
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      // Decoupled weight decay (Loshchilov & Hutter): applied to the weight, not mixed into the gradient.
      p[i] = p[i]! - lr * (m[i]! / c1 / (Math.sqrt(v[i]! / c2) + o.epsilon) + o.weightDecay * p[i]!);
    }
  });
  return { gradNorm, learningRate: lr };
}
