/**
 * Fine-tuning in Chromium (WASM, in the worker) on stories260K: an adapter trained in one profile, saved
 * as a skill and exported, imports in a fresh profile and gives the same output there; the training graph
 * goes through the weight cache (fetched once per profile).
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ANIMAL_SOUNDS, storiesChatPrompt } from '../support/animal-sounds.ts';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../models/sources.ts';
import { TRAINING_GRAPH } from '../../src/training/adapter.ts';
import { useBrowser, useProfiles } from './support/browser.ts';

const MANIFEST = JSON.parse(readFileSync(join(PROJECT_ROOT, 'public/models/stories260k/manifest.json'), 'utf8')) as { files: Record<string, { bytes: number }> };

type W = { client: import('../../src/index.ts').SlmClient; model: import('../../src/index.ts').ModelHandle; slm: typeof import('../../src/index.ts') };
const PROBES = ['The cat is in the car.', 'The dog is in the car.', 'The bird is in the car.'];

describe('fine-tuning in the browser: adapter skills across profiles', () => {
  const browser = useBrowser({ webgpu: false });
  const newProfile = useProfiles(browser);
  const profile = (): Promise<Page> => newProfile('stories260k', { dtype: 'fp32', device: 'wasm' });

  let exported = '';
  let outputs: unknown[] = [];

  it('fine-tunes in the worker, runs the adapter by name, and exports it as one skill file', async () => {
    const a = await profile();
    const result = await a.evaluate(async ({ examples, probes, prompts }) => {
      const w = window as unknown as W;
      const steps: number[] = [];
      const report = await w.model.fineTune(examples, { name: 'sounds', rank: 4, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'], steps: 40, learningRate: 1e-2, batchTokens: 64, validationSplit: 0.25, seed: 7, onProgress: (p) => void steps.push(p.step) });
      const direct = [];
      for (const p of prompts) direct.push((await w.model.generate(p, { adapter: 'sounds', maxNewTokens: 6 })).text.trim());
      const base = (await w.model.generate(prompts[0]!, { maxNewTokens: 4 })).text;
      await w.model.saveSkill({ name: 'animal sounds', task: { kind: 'adapter', adapter: 'sounds' } });
      const outputs = [];
      for (const p of probes) outputs.push(await w.model.runSkill('animal sounds', p));
      return { steps: steps.length, heldOut: report.heldOut, direct, base, outputs, file: await w.client.exportSkill('animal sounds') };
    }, { examples: ANIMAL_SOUNDS, probes: PROBES, prompts: PROBES.map(storiesChatPrompt) });
    expect(result.steps).toBe(40);
    expect(result.heldOut.filter((h) => h.after.trim().startsWith(h.expected))).toHaveLength(6);
    expect(result.direct.map((d, i) => d.startsWith(['meow', 'woof', 'tweet'][i]!))).toEqual([true, true, true]);
    expect(result.base.trim().startsWith('meow')).toBe(false);
    // runSkill takes the plain text and formats it as a user turn, as fineTune formatted the examples.
    expect(result.outputs.map((o, i) => String(o).trim().startsWith(['meow', 'woof', 'tweet'][i]!))).toEqual([true, true, true]);
    expect(JSON.parse(result.file)).toMatchObject({ task: { kind: 'adapter', adapter: 'sounds', weights: { rank: 4, layers: 5 } } });
    exported = result.file;
    outputs = result.outputs;
  });

  it('the exported adapter skill, imported in a fresh profile, reproduces the outputs', async () => {
    const b = await profile();
    const result = await b.evaluate(async ({ file, probes }) => {
      const w = window as unknown as W;
      await w.client.importSkill(file);
      const out = [];
      for (const p of probes) out.push(await w.model.runSkill('animal sounds', p));
      return out;
    }, { file: exported, probes: PROBES });
    expect(result).toEqual(outputs);
  });

  it('the training graph is fetched once into the weight cache: a second fine-tune in the profile makes no request for it', async () => {
    const page = await profile();
    const requests: string[] = [];
    page.context().on('request', (r) => void (r.url().endsWith(TRAINING_GRAPH) && requests.push(r.url())));
    /** Fine-tunes two steps and returns the bytes the weight cache then holds for stories260K. */
    const fineTune = (): Promise<number> =>
      page.evaluate(async (examples) => {
        const w = window as unknown as W;
        await w.model.fineTune(examples, { name: 'twice', rank: 2, steps: 2, validationSplit: 0 });
        return (await w.client.cachedModels()).find((m) => m.id === 'stories260k')!.bytes;
      }, ANIMAL_SOUNDS);
    const loaded = await page.evaluate(async () => (await (window as unknown as W).client.cachedModels()).find((m) => m.id === 'stories260k')!.bytes);
    const afterFirst = await fineTune();
    const firstRequests = requests.length;
    const afterSecond = await fineTune();
    expect(firstRequests).toBeGreaterThan(0);
    expect(requests.length).toBe(firstRequests);
    expect(afterFirst - loaded).toBe(MANIFEST.files[TRAINING_GRAPH]!.bytes);
    expect(afterSecond).toBe(afterFirst);
  });
});
