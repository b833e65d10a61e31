/**
 * A Hub-layout encoder model (encoder-tiny, BERT) in Chromium: transformers.js feature extraction in the
 * worker on files our cache fetched and verified (transformers.js requests none itself), embeddings
 * equal to the float64 reference, a second load with no model bytes from the network, typed errors for
 * tasks an encoder cannot do, trained heads and search on its embeddings, and WebGPU when available.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticBertWeights } from '../../models/bert/weights.ts';
import type { ModelInfo, TrainingReport } from '../../src/index.ts';
import { meanPooledNormalised, referenceBertForward, ReferenceWordPiece } from '../reference/bert.ts';
import { encoderTiny, storyThemes } from '../support/sources.ts';
import { useBrowser, openHarness, watchForeignRequests } from './support/browser.ts';
import { resetServer, servedRequests } from './support/server-control.ts';

const { shape, vocab, manifest } = encoderTiny();
const SENTENCES = ['Once upon a time, there was a little girl named Lily.', 'The dog ran to the park! He was very happy.'];
const weights = syntheticBertWeights(shape);
const tokenizer = new ReferenceWordPiece(vocab);
const expected = SENTENCES.map((s) => meanPooledNormalised(referenceBertForward(shape, weights, tokenizer.encode(s))));
const LOADED_FILES = ['manifest.json', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];

const examples = storyThemes();

type W = { client: import('../../src/index.ts').SlmClient; model: import('../../src/index.ts').ModelHandle; slm: typeof import('../../src/index.ts') };

/** Loads encoder-tiny in a new worker on `page` and embeds SENTENCES. */
function loadAndEmbed(page: Page, device: 'auto' | 'wasm'): Promise<{ info: ModelInfo; vectors: number[][] }> {
  return page.evaluate(
    async ({ device, sentences }) => {
      const w = window as unknown as W;
      w.client = await w.slm.SlmClient.inWorker();
      w.model = await w.client.load('encoder-tiny', { dtype: 'fp32', device });
      const vectors = await w.model.embed(sentences);
      return { info: w.model.info, vectors: vectors.map((v) => Array.from(v)) };
    },
    { device, sentences: SENTENCES },
  );
}

const maxDiff = (a: number[][], b: ArrayLike<number>[]): number => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))));

describe('a Hub encoder model through transformers.js feature extraction (WASM)', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  let foreign: string[];
  beforeAll(async () => {
    page = await openHarness(browser());
    foreign = watchForeignRequests(page);
  });

  it('embeds exactly like the reference; transformers.js fetched nothing; a reload requests no model bytes', async () => {
    await resetServer();
    const first = await loadAndEmbed(page, 'auto');
    expect(first.info).toMatchObject({ kind: 'encoder', backend: 'wasm', dtype: 'fp32', contextLength: shape.maxPositions, vocabSize: shape.vocabSize });
    expect(first.info.backendReason).toMatch(/WebGPU unavailable/);
    expect(maxDiff(first.vectors, expected)).toBeLessThan(1e-4);
    // Each file once, through our cache: none requested by transformers.js, none outside the model's files.
    const requests = (await servedRequests()).filter((r) => r.path.startsWith('/models/encoder-tiny/'));
    expect(requests.map((r) => r.path.slice('/models/encoder-tiny/'.length)).sort()).toEqual([...LOADED_FILES].sort());
    const cached = await page.evaluate(() => (window as unknown as W).client.cachedModels());
    const entry = cached.find((m) => m.id === 'encoder-tiny')!;
    expect(entry).toMatchObject({ files: LOADED_FILES.length - 1, partialBytes: 0 });
    expect(entry.bytes).toBe(LOADED_FILES.slice(1).reduce((n, f) => n + manifest.files[f]!.bytes, 0));

    await resetServer();
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    const second = await loadAndEmbed(page, 'wasm');
    expect(second.vectors).toEqual(first.vectors);
    expect(await servedRequests()).toEqual([]);
    expect(foreign).toEqual([]);
  });

  it('generation and zero-shot are typed errors; a text over the context is too; the model keeps working', async () => {
    const errors = await page.evaluate(async () => {
      const { model } = window as unknown as W;
      const names: string[] = [];
      const attempt = async (f: () => Promise<unknown>): Promise<void> => {
        try {
          await f();
          names.push('none');
        } catch (e) {
          names.push((e as Error).name);
        }
      };
      await attempt(() => model.generate('Once upon a time'));
      await attempt(() => model.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }] }));
      await attempt(() => model.extract('Lily is 3.', { type: 'object', properties: { age: { type: 'integer' } }, required: ['age'] }));
      await attempt(() => model.classifyZeroShot('A dog.', ['animals', 'food']));
      await attempt(() => model.embed(['word '.repeat(600)]));
      return names;
    });
    expect(errors).toEqual(['UnsupportedTaskError', 'UnsupportedTaskError', 'UnsupportedTaskError', 'UnsupportedTaskError', 'ContextOverflowError']);
    const [again] = await page.evaluate(async (s) => (await (window as unknown as W).model.embed([s])).map((v) => Array.from(v)), SENTENCES[0]!);
    expect(maxDiff([again!], [expected[0]!])).toBeLessThan(1e-4);
  });

  it('trains a classifier head on its embeddings, and searches documents by cosine', async () => {
    const { report, hits } = await page.evaluate(async (examples) => {
      const { model } = window as unknown as W;
      const report = await model.trainClassifier(examples, { seed: 7 });
      await model.indexDocuments('encoder-docs', examples.slice(0, 12).map((e, i) => ({ id: `d${i}`, text: e.text })));
      const hits = await model.search('encoder-docs', examples[5]!.text, 3);
      return { report, hits };
    }, examples);
    const r = report as TrainingReport;
    console.log(`encoder-tiny (random weights) head: held-out accuracy ${(r.accuracy * 100).toFixed(1)} % on ${r.validationSize} (chance 33.3 %)`);
    expect(r.head.dim).toBe(shape.hidden);
    expect(r.trainSize + r.validationSize).toBe(examples.length);
    expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(r.validationSize);
    // The document's own text is its nearest neighbour, at cosine 1.
    expect(hits[0]).toMatchObject({ id: 'd5' });
    expect(hits[0]!.score).toBeCloseTo(1, 5);
    expect(hits[1]!.score).toBeLessThan(hits[0]!.score);
  });
});

describe('a Hub encoder model on WebGPU (SwiftShader)', () => {
  const browser = useBrowser({ webgpu: true });

  it('auto picks WebGPU and embeds like the reference', async () => {
    const page = await openHarness(browser());
    const { info, vectors } = await loadAndEmbed(page, 'auto');
    expect(info).toMatchObject({ kind: 'encoder', backend: 'webgpu', fellBack: false });
    expect(maxDiff(vectors, expected)).toBeLessThan(1e-3);
  });
});
