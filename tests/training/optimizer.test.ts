import { describe, expect, it } from 'vitest';
import { adamWState, adamWStep, learningRateAt, type AdamWOptions } from '../../src/training/optimizer.ts';

const O: AdamWOptions = { learningRate: 0.1, warmupSteps: 2, maxGradNorm: 1, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

describe('AdamW', () => {
  it('warms the learning rate up linearly, then holds it', () => {
    expect([1, 2, 3, 10].map((s) => learningRateAt(s, O))).toEqual([0.05, 0.1, 0.1, 0.1]);
  });

  it('with decaySteps, falls from the peak after the warm-up to 0 along a half cosine', () => {
    const decayed = { ...O, decaySteps: 6 };
    // Steps 3…6 are 1/4…4/4 of the way from the warm-up's end (step 2) to step 6: 0.1·(1 + cos(π·k/4))/2.
    const rates = [1, 2, 3, 4, 5, 6, 7].map((s) => learningRateAt(s, decayed));
    const expected = [0.05, 0.1, 0.1 * (1 + Math.SQRT1_2) / 2, 0.05, 0.1 * (1 - Math.SQRT1_2) / 2, 0, 0];
    rates.forEach((r, i) => expect(r).toBeCloseTo(expected[i]!, 12));
  });

  it('matches the AdamW formulas over two steps, clipping the first gradient to the maximum global norm', () => {
    const params = [Float32Array.of(1, -2)];
    const state = adamWState(params);
    const first = adamWStep(params, [Float32Array.of(3, 4)], state, O);
    const second = adamWStep(params, [Float32Array.of(0.1, -0.1)], state, O);
    expect(first.gradNorm).toBeCloseTo(5, 6);
    expect(second.learningRate).toBe(0.1);
    // Hand-written in float64: step 1 sees the gradient scaled to norm 1 ([0.6, 0.8]) at lr 0.05; step 2 is unclipped at lr 0.1.
    const expected = [1, -2].map((p0, i) => {
      const g1 = [0.6, 0.8][i]!;
      const g2 = [0.1, -0.1][i]!;
      let m = 0.1 * g1;
      let v = 0.001 * g1 * g1;
      const p1 = p0 - 0.05 * (m / 0.1 / (Math.sqrt(v / 0.001) + 1e-8) + 0.01 * p0);
      m = 0.9 * m + 0.1 * g2;
      v = 0.999 * v + 0.001 * g2 * g2;
      return p1 - 0.1 * (m / (1 - 0.81) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8) + 0.01 * p1);
    });
    expect(Math.abs(params[0]![0]! - expected[0]!)).toBeLessThan(1e-6);
    expect(Math.abs(params[0]![1]! - expected[1]!)).toBeLessThan(1e-6);
  });
});
