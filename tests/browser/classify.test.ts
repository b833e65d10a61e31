/**
 * Embeddings and classification with stories260K in Chromium: zero-shot distributions, and a head
 * trained in the worker on tests/fixtures/story-themes.tsv (3 balanced themes: chance is 1/3).
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TrainingReport } from '../../src/index.ts';
import { useBrowser, openHarness } from './support/browser.ts';
import { storyThemes } from '../support/sources.ts';

const examples = storyThemes();

describe('embeddings and classification with stories260K', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  type W = { client: import('../../src/index.ts').SlmClient; model: import('../../src/index.ts').ModelHandle; slm: typeof import('../../src/index.ts') };
  beforeAll(async () => {
    page = await openHarness(browser());
    await page.evaluate(async () => {
      const w = window as unknown as W;
      w.client = await w.slm.SlmClient.inWorker();
      w.model = await w.client.load('stories260k', { dtype: 'fp32' });
    });
  });

  it('embeddings are unit vectors, and closer within a theme than across', async () => {
    const v = await page.evaluate(async () => {
      const vectors = await (window as unknown as W).model.embed(['The dog barked at the cat.', 'A puppy played with a kitten.', 'Mom baked a cake with sugar.']);
      return vectors.map((x) => Array.from(x));
    });
    const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * b[i]!, 0);
    expect(v).toHaveLength(3);
    for (const x of v) expect(dot(x, x)).toBeCloseTo(1, 5);
    expect(dot(v[0]!, v[1]!)).toBeGreaterThan(dot(v[0]!, v[2]!));
  });

  it('zero-shot classification returns a distribution over the labels that sums to 1', async () => {
    const p = await page.evaluate(() => (window as unknown as W).model.classifyZeroShot('The dog ran after the cat in the garden.', ['animals', 'food', 'weather']));
    expect(Object.keys(p)).toEqual(['animals', 'food', 'weather']);
    expect(Object.values(p).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    for (const x of Object.values(p)) expect(x).toBeGreaterThan(0);
  });

  it('trains a head well above chance on held-out examples, identically for the same seed', async () => {
    const [a, b, progress] = await page.evaluate(async (examples) => {
      const model = (window as unknown as W).model;
      const events: string[] = [];
      const first = await model.trainClassifier(examples, { seed: 7, onProgress: (p) => events.push(p.phase) });
      const second = await model.trainClassifier(examples, { seed: 7 });
      return [first, second, events] as const;
    }, examples);
    const report = a as TrainingReport;
    console.log(`held-out accuracy ${(report.accuracy * 100).toFixed(1)} % on ${report.validationSize} examples (chance 33.3 %), ${report.epochs} epochs; confusion ${JSON.stringify(report.confusion)}`);
    expect(report.head.labels).toEqual(['animals', 'food', 'weather']);
    expect(report.trainSize + report.validationSize).toBe(examples.length);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.6);
    expect(report.confusion.flat().reduce((x, y) => x + y, 0)).toBe(report.validationSize);
    expect(b).toEqual(a);
    expect(progress).toContain('features');
    expect(progress).toContain('training');

    const p = await page.evaluate(({ head }) => (window as unknown as W).model.classify(head, 'Snow and rain fell from the grey clouds.'), { head: report.head });
    expect(Object.values(p).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6);
  });

  it('indexes documents in IndexedDB and finds the closest by cosine, also from a new worker', async () => {
    const docs = [
      { id: 'a1', text: 'The puppy and the kitten played together.' },
      { id: 'a2', text: 'A big dog barked at the birds.' },
      { id: 'f1', text: 'Mom baked cookies and a cake.' },
      { id: 'f2', text: 'We ate soup with bread for dinner.' },
      { id: 'w1', text: 'Rain and wind came with the storm.' },
      { id: 'w2', text: 'Snow fell from the grey clouds.' },
    ];
    const r = await page.evaluate(async (docs) => {
      const w = window as unknown as W;
      const stored = await w.model.indexDocuments('stories', docs);
      const hits = await w.model.search('stories', 'A dog and a cat ran in the garden.', 3);
      // A new worker, its own memory: the collection comes back from IndexedDB.
      const other = await w.slm.SlmClient.inWorker();
      const model = await other.load('stories260k', { dtype: 'fp32' });
      const again = await model.search('stories', 'A dog and a cat ran in the garden.', 3);
      await other.deleteCollection('stories');
      const afterDelete = await model.search('stories', 'A dog and a cat ran in the garden.', 3);
      other.terminate();
      return { stored, hits, again, afterDelete };
    }, docs);
    expect(r.stored).toBe(6);
    expect(r.hits).toHaveLength(3);
    expect(r.hits[0]!.id.startsWith('a')).toBe(true);
    expect(r.hits.map((h) => h.score)).toEqual([...r.hits.map((h) => h.score)].sort((a, b) => b - a));
    for (const h of r.hits) expect(h.score).toBeLessThanOrEqual(1 + 1e-6);
    expect(r.again).toEqual(r.hits);
    expect(r.afterDelete).toEqual([]);
  });

  it.each([
    ['fewer than 2 labels', `model.trainClassifier([{ text: 'a dog', label: 'x' }, { text: 'a cat', label: 'x' }])`, 'InvalidArgumentError', /at least 2 distinct labels/],
    ['no examples', `model.trainClassifier([])`, 'InvalidArgumentError', /got none/],
    ['an empty example text', `model.trainClassifier([{ text: '', label: 'a' }, { text: 'x', label: 'b' }])`, 'InvalidArgumentError', /non-empty string/],
    ['zero-shot with one label', `model.classifyZeroShot('a dog', ['animals'])`, 'InvalidArgumentError', /at least 2 distinct labels/],
    ['text longer than the context', `model.embed(['word '.repeat(700)])`, 'ContextOverflowError', /the context is 512/],
  ])('%s gives its typed error and the worker keeps serving', async (_label, call, name, message) => {
    const r = (await page.evaluate(`(async () => {
      const model = window.model;
      let failure = null;
      try { await ${call}; } catch (e) { failure = { name: e.name, message: e.message }; }
      const after = await model.embed(['still working']);
      return { failure, after: after[0].length };
    })()`)) as { failure: { name: string; message: string } | null; after: number };
    expect(r.failure?.name).toBe(name);
    expect(r.failure?.message).toMatch(message);
    expect(r.after).toBe(64);
  });
});
