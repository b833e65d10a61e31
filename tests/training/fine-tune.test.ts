/**
 * fineTune through the Engine on stories260K, with onnxruntime-node standing in for onnxruntime-web's WASM
 * build (the same session API): the real load step (LoRA inputs added to the graph), the training graph
 * the converter writes (served over HTTP), adapters by name on one session, typed errors, abort, and
 * adapter skills.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointModel, parseLegacyCheckpoint } from '../../models/llama2c/checkpoint.ts';
import { buildLlamaLoraTrainingGraph } from '../../models/convert.ts';
import { resolveSource, STORIES_260K } from '../../models/sources.ts';
import type { Engine } from '../../src/engine/engine.ts';
import { AbortError, InvalidArgumentError, UnsupportedTaskError } from '../../src/errors.ts';
import { TRAINING_GRAPH } from '../../src/training/adapter.ts';
import type { FineTuneExample, FineTuneOptions, FineTuneProgress } from '../../src/training/fine-tune.ts';
import { startFileServer, type FileServer } from '../support/file-server.ts';
import { ANIMAL_SOUNDS, storiesChatPrompt } from '../support/animal-sounds.ts';
import { STORIES_DIR } from '../support/sources.ts';
import { folderLoader, loadedEngine, sessions } from './support/node-engine.ts';

const EXAMPLES = ANIMAL_SOUNDS;

let server: FileServer;
const loaded = (): Promise<{ engine: Engine; handle: string }> => loadedEngine(folderLoader(STORIES_DIR, `${server.url}/stories260k/`, 'fp32'));

const OPTIONS: FineTuneOptions = { name: 'sounds', rank: 4, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'], steps: 40, learningRate: 1e-2, batchTokens: 64, validationSplit: 0.25, seed: 7 };

beforeAll(async () => {
  const model = checkpointModel(parseLegacyCheckpoint(await resolveSource(STORIES_260K.checkpoint)));
  server = await startFileServer({ [`/stories260k/${TRAINING_GRAPH}`]: buildLlamaLoraTrainingGraph(model) });
});
afterAll(() => server.close());

describe('fineTune on stories260K (engine, WASM stand-in)', () => {
  // stories260K never saw its end-of-sequence token in training (llama2.c stories are delimited by BOS), so
  // 40 steps teach it the answer but not to stop after it: its exact match stays 0 and the first word is checked.
  it('learns the rule: every held-out completion starts with the expected word, held-out loss falls, the curves are finite', async () => {
    const { engine, handle } = await loaded();
    const progress: FineTuneProgress[] = [];
    const report = await engine.fineTune(handle, EXAMPLES, OPTIONS, (p) => void progress.push(p));
    expect(report.heldOut).toHaveLength(6);
    expect(report.trainLoss).toHaveLength(40);
    expect(report.trainLoss.every((p) => Number.isFinite(p.loss))).toBe(true);
    expect(report.heldOutLoss.at(-1)!.loss).toBeLessThan(report.heldOutLoss[0]!.loss);
    expect(report.heldOut.filter((h) => h.before.trim().startsWith(h.expected))).toHaveLength(0);
    expect(report.heldOut.filter((h) => h.after.trim().startsWith(h.expected))).toHaveLength(6);
    expect(progress.map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    console.log(`stories260K sounds: exact match ${report.before.exactMatch} → ${report.after.exactMatch}, held-out loss ${report.heldOutLoss[0]!.loss.toFixed(3)} → ${report.heldOutLoss.at(-1)!.loss.toFixed(3)}, ${report.ms.toFixed(0)} ms, ${report.adapterBytes} adapter bytes`);
  });

  it('the same seed, data and options give the same adapter bytes', async () => {
    const a = await loaded();
    const b = await loaded();
    const options = { ...OPTIONS, steps: 6 };
    await a.engine.fineTune(a.handle, EXAMPLES, options);
    await b.engine.fineTune(b.handle, EXAMPLES, options);
    const saved = async (x: { engine: Engine; handle: string }): Promise<unknown> => (await x.engine.saveSkill(x.handle, { name: 'sounds', task: { kind: 'adapter', adapter: 'sounds' } })).task;
    expect(await saved(a)).toEqual(await saved(b));
  });

  it('two adapters alternate on one loaded model, each with its own output, with one session', async () => {
    const { engine, handle } = await loaded();
    const before = sessions.created;
    await engine.fineTune(handle, EXAMPLES, OPTIONS);
    const swapped = EXAMPLES.map((e) => ('prompt' in e ? { ...e, completion: e.completion === 'meow' ? 'woof' : e.completion === 'woof' ? 'meow' : e.completion } : e));
    await engine.fineTune(handle, swapped, { ...OPTIONS, name: 'swapped' });
    const trainingSessions = sessions.created - before; // one training graph per fineTune, released after it
    const prompt = storiesChatPrompt('The cat is in the car.');
    const outputs: string[] = [];
    for (const adapter of ['sounds', 'swapped', 'sounds', 'swapped']) outputs.push((await engine.generate(handle, prompt, { adapter, maxNewTokens: 4 })).text.trim().slice(0, 4));
    expect(outputs).toEqual(['meow', 'woof', 'meow', 'woof']);
    expect(sessions.created - before).toBe(trainingSessions);
    expect(trainingSessions).toBe(2);
  });

  it('a model folder without a training graph is an UnsupportedTaskError and the model stays usable', async () => {
    const { engine, handle } = await loadedEngine(folderLoader(STORIES_DIR, `${server.url}/no-training-graph/`, 'fp32'));
    const call = engine.fineTune(handle, EXAMPLES, OPTIONS);
    await expect(call).rejects.toBeInstanceOf(UnsupportedTaskError);
    await expect(call).rejects.toThrow('no training graph');
    await expect(engine.generate(handle, 'Once upon a time', { maxNewTokens: 4 })).resolves.toHaveProperty('finishReason');
  });

  it('an abort leaves the model usable and the base model unchanged', async () => {
    const { engine, handle } = await loaded();
    const base = await engine.generate(handle, 'Once upon a time', { maxNewTokens: 12 });
    const controller = new AbortController();
    const training = engine.fineTune(handle, EXAMPLES, { ...OPTIONS, steps: 500, signal: controller.signal }, (p) => {
      if (p.step === 2) controller.abort();
    });
    await expect(training).rejects.toBeInstanceOf(AbortError);
    expect((await engine.generate(handle, 'Once upon a time', { maxNewTokens: 12 })).tokenIds).toEqual(base.tokenIds);
    await expect(engine.generate(handle, 'Once upon a time', { adapter: 'sounds' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it.each<[string, FineTuneExample[], Partial<FineTuneOptions>, string]>([
    ['fewer than 8 examples', EXAMPLES.slice(0, 7), {}, 'at least 8'],
    ['an empty completion', [...EXAMPLES.slice(0, 8), { prompt: 'x', completion: '  ' }], {}, 'empty completion'],
    ['an example longer than maxLength', EXAMPLES, { maxLength: 8 }, 'maxLength is 8'],
    ['rank 0', EXAMPLES, { rank: 0 }, 'rank must be'],
    ['an unknown target', EXAMPLES, { targets: ['q', 'lm_head' as 'q'] }, 'unknown LoRA target "lm_head"'],
  ])('%s is an InvalidArgumentError and the model stays usable', async (_, examples, options, message) => {
    const { engine, handle } = await loaded();
    const call = engine.fineTune(handle, examples, { ...OPTIONS, ...options });
    await expect(call).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(call).rejects.toThrow(message);
    await expect(engine.generate(handle, 'Once upon a time', { maxNewTokens: 4 })).resolves.toHaveProperty('finishReason');
  });

  it('an adapter skill exported from one engine runs in a fresh one with the same output', async () => {
    const { engine, handle } = await loaded();
    await engine.fineTune(handle, EXAMPLES, OPTIONS);
    const direct = (await engine.generate(handle, storiesChatPrompt('The dog is in the car.'), { adapter: 'sounds', maxNewTokens: 3 })).text;
    const file = await (async () => {
      await engine.saveSkill(handle, { name: 'animal sounds', task: { kind: 'adapter', adapter: 'sounds' } });
      return engine.exportSkill('animal sounds');
    })();
    // A fresh engine (another profile) imports the file and runs it: the same output as the adapter it came from.
    const other = await loaded();
    await other.engine.importSkill(file);
    // runSkill formats its input as a user turn, as fineTune formatted the examples.
    const ran = (await other.engine.runSkill(other.handle, 'animal sounds', 'The dog is in the car.')) as string;
    expect(ran.startsWith(direct)).toBe(true);
  });
});
