import { describe, expect, it } from 'vitest';
import { argmax, Sampler } from '../../src/engine/generation/sampling.ts';

const logits = (): Float32Array => Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 4);
const base = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 1 };
const draw = (opts: typeof base, n = 300): number[] => {
  const s = new Sampler(opts);
  return Array.from({ length: n }, () => s.next(logits(), []));
};

describe('Sampler', () => {
  it('is greedy at temperature 0', () => {
    const l = logits();
    expect(new Sampler({ ...base, temperature: 0 }).next(l.slice(), [])).toBe(argmax(l));
  });

  it('reproduces the same sequence for the same seed, and not for another', () => {
    expect(draw(base)).toEqual(draw(base));
    expect(draw(base)).not.toEqual(draw({ ...base, seed: 2 }));
  });

  it('top-k only ever picks among the k most likely tokens', () => {
    const l = logits();
    const top5 = [...l.keys()].sort((a, b) => l[b]! - l[a]!).slice(0, 5);
    const picks = new Set(draw({ ...base, topK: 5 }));
    for (const p of picks) expect(top5).toContain(p);
    expect(picks.size).toBeGreaterThan(1);
  });

  it('top-p keeps the smallest set reaching the mass, including a full sort when 64 are not enough', () => {
    const flat = new Float32Array(1000); // uniform: the nucleus for 0.5 is 500 tokens
    const s = new Sampler({ ...base, topP: 0.5 });
    const picks = new Set(Array.from({ length: 2000 }, () => s.next(flat.slice(), [])));
    expect(picks.size).toBeGreaterThan(100);
    expect(picks.size).toBeLessThanOrEqual(500);
    const peaked = logits().map((v, i) => (i === 3 ? 50 : v));
    expect(new Set(Array.from({ length: 50 }, () => new Sampler({ ...base, topP: 0.9, seed: 9 }).next(peaked.slice(), [])))).toEqual(new Set([3]));
  });

  it('repetition penalty lowers tokens already seen', () => {
    const l = new Float32Array([2, 1.9, -1]);
    expect(new Sampler({ ...base, temperature: 0, repetitionPenalty: 1.2 }).next(l, [0])).toBe(1);
    expect(l[0]).toBeCloseTo(2 / 1.2);
  });
});
