/**
 * Fine-tuning on WebGPU in Chromium (SwiftShader's adapter, so a CPU emulation: correctness, not speed):
 * stories260K fine-tuned with device 'webgpu' trains there and learns, and agrees with the same fine-tune
 * on WASM (same seed, data and options) — the reference, whose gradients the Node tests check against
 * finite differences.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../src/index.ts';
import { ANIMAL_SOUNDS, storiesChatPrompt } from '../support/animal-sounds.ts';
import { useBrowser, useProfiles } from './support/browser.ts';

type W = { model: import('../../src/index.ts').ModelHandle };
type Run = { info: ModelInfo; trainLoss: number[]; heldOutLoss: number[]; probes: string[] };

const PROBES = ['The cat is in the car.', 'The dog is in the car.', 'The bird is in the car.'].map(storiesChatPrompt);
// fine-tune.test.ts's options, fewer steps: SwiftShader trains stories260K at ~20 tokens/s.
const OPTIONS = { name: 'sounds', rank: 4, steps: 16, learningRate: 1e-2, batchTokens: 64, validationSplit: 0.25, seed: 7 };
/**
 * fp32 on the GPU sums in another order than the CPU, so over 16 AdamW steps the adapters drift apart a
 * little. Measured: largest relative difference of a loss 1.4e-5 (the test prints it); bound 7× that.
 */
const LOSS_TOLERANCE = 1e-4;

describe('fine-tuning on WebGPU (SwiftShader) against WASM, stories260K', () => {
  const browser = useBrowser({ webgpu: true });
  const newProfile = useProfiles(browser);
  const runs: Partial<Record<'webgpu' | 'wasm', Run>> = {};

  /** Fine-tunes in a fresh profile on `device`; the model's info afterwards, the losses and the adapter's greedy answers to the probes. */
  const fineTune = async (device: 'webgpu' | 'wasm'): Promise<Run> => {
    const page = await newProfile('stories260k', { dtype: 'fp32', device });
    return page.evaluate(
      async ({ examples, options, probes }) => {
        const w = window as unknown as W;
        const report = await w.model.fineTune(examples, options);
        const answers: string[] = [];
        for (const p of probes) answers.push((await w.model.generate(p, { adapter: options.name, maxNewTokens: 6 })).text);
        return { info: await w.model.refreshInfo(), trainLoss: report.trainLoss.map((l) => l.loss), heldOutLoss: report.heldOutLoss.map((l) => l.loss), probes: answers };
      },
      { examples: ANIMAL_SOUNDS, options: OPTIONS, probes: PROBES },
    );
  };

  beforeAll(async () => {
    runs.webgpu = await fineTune('webgpu');
    runs.wasm = await fineTune('wasm');
  }, 600_000);

  it('trains on the WebGPU backend, without falling back to WASM', () => {
    expect(runs.webgpu!.info).toMatchObject({ backend: 'webgpu', fellBack: false });
  });

  it('its losses are finite and the training loss goes down (last 4 steps below the first 4)', () => {
    const { trainLoss, heldOutLoss } = runs.webgpu!;
    expect(trainLoss).toHaveLength(OPTIONS.steps);
    expect([...trainLoss, ...heldOutLoss].every(Number.isFinite)).toBe(true);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(trainLoss.slice(-4))).toBeLessThan(mean(trainLoss.slice(0, 4)));
  });

  it(`its loss at every step and its held-out loss equal WASM's within a relative ${LOSS_TOLERANCE}`, () => {
    const gpu = [...runs.webgpu!.trainLoss, ...runs.webgpu!.heldOutLoss];
    const cpu = [...runs.wasm!.trainLoss, ...runs.wasm!.heldOutLoss];
    expect(runs.wasm!.info.backend).toBe('wasm');
    expect(gpu).toHaveLength(cpu.length);
    const worst = Math.max(...gpu.map((l, i) => Math.abs(l - cpu[i]!) / Math.abs(cpu[i]!)));
    console.log(`WebGPU vs WASM fine-tune: largest relative loss difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(LOSS_TOLERANCE);
  });

  it("its adapter's greedy answers to the probes equal WASM's adapter's", () => {
    expect(runs.webgpu!.probes).toEqual(runs.wasm!.probes);
  });
});
