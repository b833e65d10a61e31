/**
 * The real sentence encoder (all-MiniLM-L6-v2, converted from its pinned wheel) in Chromium on WASM,
 * through the public API: embeddings equal to the float64 reference, semantic search that finds the
 * paraphrase of a sentence among hard distractors (tests/fixtures/paraphrases.tsv), and a classifier
 * head trained on its embeddings (tests/fixtures/support-intents.tsv: 4 balanced intents, chance 25 %).
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelInfo, TrainingReport } from '../../src/index.ts';
import { ALL_MINILM_L6_V2 } from '../../models/sources.ts';
import { meanPooledNormalised, referenceBertForward } from '../reference/bert.ts';
import { labelledExamples, minilm, paraphrases } from '../support/sources.ts';
import { openHarness, useBrowser } from './support/browser.ts';

const SENTENCES = ['The package arrived damaged.', 'Interest rates are expected to rise next year, analysts say.'];
const { shape, weights, wordPiece } = await minilm();
const expected = SENTENCES.map((s) => meanPooledNormalised(referenceBertForward(shape, weights, wordPiece.encode(s))));

type Handle = import('../../src/index.ts').ModelHandle;
type W = { client: import('../../src/index.ts').SlmClient; model: Handle; q4: Handle; slm: typeof import('../../src/index.ts') };

describe('all-MiniLM-L6-v2 in Chromium (WASM, fp32)', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  let info: ModelInfo;
  beforeAll(async () => {
    page = await openHarness(browser());
    info = await page.evaluate(async (id) => {
      const w = window as unknown as W;
      w.client = await w.slm.SlmClient.inWorker();
      w.model = await w.client.load(id, { dtype: 'fp32', device: 'wasm' });
      return w.model.info;
    }, ALL_MINILM_L6_V2.id);
  });

  it('loads as an encoder and embeds like the float64 reference within 1e-4', async () => {
    const vectors = await page.evaluate(async (sentences) => (await (window as unknown as W).model.embed(sentences)).map((v) => Array.from(v)), SENTENCES);
    expect(info).toMatchObject({ kind: 'encoder', backend: 'wasm', dtype: 'fp32', contextLength: 512, vocabSize: 30522 });
    const worst = Math.max(...vectors.flatMap((row, i) => row.map((v, j) => Math.abs(v - expected[i]![j]!))));
    expect(worst).toBeLessThan(1e-4);
  });

  /** Indexes the fixture's paraphrases and distractors with the model in `slot`, then searches each query; logs the misses. */
  async function paraphraseScore(slot: 'model' | 'q4', label: string): Promise<number> {
    const { pairs, distractors } = paraphrases();
    const docs = [...pairs.map((p, i) => ({ id: `p${i}`, text: p.paraphrase })), ...distractors.map((text, i) => ({ id: `d${i}`, text }))];
    const top = await page.evaluate(
      async ({ slot, docs, queries }) => {
        const model = (window as unknown as W)[slot];
        await model.indexDocuments(`paraphrases-${slot}`, docs);
        const first: string[] = [];
        for (const q of queries) first.push((await model.search(`paraphrases-${slot}`, q, 1))[0]!.id);
        return first;
      },
      { slot, docs, queries: pairs.map((p) => p.query) },
    );
    const misses = pairs.flatMap((p, i) => (top[i] === `p${i}` ? [] : [`${p.query} → ${docs.find((d) => d.id === top[i])?.text}`]));
    const score = 1 - misses.length / pairs.length;
    console.log(`MiniLM ${label} search: paraphrase first for ${pairs.length - misses.length}/${pairs.length} (${(score * 100).toFixed(1)} %) among ${docs.length} documents; misses: ${JSON.stringify(misses)}`);
    return score;
  }

  it('search returns the paraphrase first for at least 90 % of the fixture', async () => {
    expect(await paraphraseScore('model', 'fp32')).toBeGreaterThanOrEqual(0.9);
  });

  it('with q4 weights (the default dtype) search still returns the paraphrase first for at least 85 %', async () => {
    await page.evaluate(async (id) => {
      const w = window as unknown as W;
      w.q4 = await w.client.load(id, { dtype: 'q4', device: 'wasm' });
    }, ALL_MINILM_L6_V2.id);
    expect(await paraphraseScore('q4', 'q4')).toBeGreaterThanOrEqual(0.85);
  });

  it('a classifier head trained on its embeddings beats chance clearly on held-out examples', async () => {
    const examples = labelledExamples('support-intents.tsv');
    const report = (await page.evaluate((examples) => (window as unknown as W).model.trainClassifier(examples, { seed: 7 }), examples)) as TrainingReport;
    const chance = 1 / report.head.labels.length;
    console.log(`MiniLM head: held-out accuracy ${(report.accuracy * 100).toFixed(1)} % on ${report.validationSize} examples (chance ${(chance * 100).toFixed(1)} %); confusion ${JSON.stringify(report.confusion)}`);
    expect(report.head.labels).toEqual(['account', 'billing', 'delivery', 'technical']);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.75);
  });
});

describe('all-MiniLM-L6-v2 on WebGPU (SwiftShader), q4', () => {
  const browser = useBrowser({ webgpu: true });

  it('auto picks WebGPU, and the q4 embeddings keep their direction', async () => {
    const page = await openHarness(browser());
    const { info, vectors } = await page.evaluate(
      async ({ id, sentences }) => {
        const w = window as unknown as W;
        w.client = await w.slm.SlmClient.inWorker();
        const model = await w.client.load(id, { dtype: 'q4', device: 'auto' });
        return { info: model.info, vectors: (await model.embed(sentences)).map((v) => Array.from(v)) };
      },
      { id: ALL_MINILM_L6_V2.id, sentences: SENTENCES },
    );
    expect(info).toMatchObject({ kind: 'encoder', backend: 'webgpu', dtype: 'q4', fellBack: false });
    const cosines = vectors.map((v, i) => v.reduce((s, x, j) => s + x * expected[i]![j]!, 0));
    console.log(`MiniLM q4 on WebGPU: cosine to the fp32 reference ${cosines.map((c) => c.toFixed(4)).join(', ')}`);
    for (const c of cosines) expect(c).toBeGreaterThan(0.95);
  });
});
