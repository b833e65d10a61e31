/**
 * Issue #14's acceptance test: SmolLM2-135M-Instruct fine-tuned in Chromium on WASM routes support
 * messages to 6 made-up queues (tests/fixtures/support-queues.*.txt) it could not guess before, and the
 * adapter, exported in one browser profile and imported in a fresh one, gives the same answers there.
 * Scoring is exact match of the greedy answer on the fixture's fixed held-out split (never trained on);
 * chance is 1/6.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { FineTuneReport, ModelHandle, SlmClient } from '../../src/index.ts';
import { supportQueues } from '../support/fine-tune-fixture.ts';
import { useBrowser, useProfiles } from './support/browser.ts';

type W = { slm: typeof import('../../src/index.ts'); client: SlmClient; model: ModelHandle };
const MODEL = 'smollm2-135m-instruct';
const SKILL = 'support-router';
// All 120 training lines (20 per queue); fineTune's defaults otherwise, as a user would call it, but for
// its own held-out share: 10 % instead of 20 %, since the scored split is the fixture's fixed one and each
// report answer is a greedy generation at ~3 tokens/s (24 fewer of them, 12 more examples trained on).
const train = supportQueues('train');
const heldOut = supportQueues('heldout');
const CHANCE = 1 / 6;
// The issue's goal for the fixed held-out split. Measured with these options in Chromium: 0 % → 90 % (27/30);
// 177 s in fineTune (324 steps) and 273 s for the whole test on 2 cores, the rest mostly greedy answers at
// ~3 tokens/s (the times are printed below).
const GOAL = 0.8;

const exactMatch = (answers: string[]): number => answers.filter((a, i) => a.trim() === heldOut[i]!.completion).length / heldOut.length;

describe('fine-tuning SmolLM2-135M-Instruct on WASM (issue #14)', () => {
  const browser = useBrowser({ webgpu: false });
  const newProfile = useProfiles(browser);
  /** A fresh browser profile (its own IndexedDB) with the harness open and SmolLM2 loaded on WASM. */
  const profile = async (): Promise<Page> => {
    const page = await newProfile(MODEL, { dtype: 'q4', device: 'wasm' });
    // The page's progress lines (below) show in the test's output: a slow run can be followed.
    page.on('console', (m) => console.log(`[page] ${m.text()}`));
    return page;
  };

  let report: FineTuneReport;
  let base: string[] = [];
  let tuned: string[] = [];
  let exported = '';

  /** Greedy answers to the held-out messages as chat turns (fineTune's own formatting), with or without an adapter. */
  const answer = (page: Page, adapter: string | null): Promise<string[]> =>
    page.evaluate(
      async ({ prompts, adapter }) => {
        const w = window as unknown as W;
        const out: string[] = [];
        for (const content of prompts) {
          const reply = await w.model.chat.completions.create({ messages: [{ role: 'user', content }], max_tokens: 8, temperature: 0, ...(adapter && { adapter }) });
          out.push(reply.choices[0]!.message.content ?? '');
        }
        return out;
      },
      { prompts: heldOut.map((e) => e.prompt), adapter },
    );

  it('after fine-tuning, held-out exact match reaches 80 %, and the base model is at chance or below', async () => {
    const page = await profile();
    const started = performance.now();
    base = await answer(page, null);
    const result = await page.evaluate(
      async ({ train, name }) => {
        const w = window as unknown as W;
        const t = performance.now();
        const report = await w.model.fineTune(train, {
          name,
          seed: 1,
          validationSplit: 0.1,
          // Every 20th step and each epoch's end (where the held-out loss comes), so the log stays short.
          onProgress: (p) => {
            if (p.step % 20 === 0 || p.heldOutLoss !== undefined) console.log(`step ${p.step}/${p.steps} epoch ${p.epoch} loss ${p.trainLoss.toFixed(3)}${p.heldOutLoss === undefined ? '' : ` held-out ${p.heldOutLoss.toFixed(3)}`} ${p.tokensPerSecond.toFixed(1)} tok/s, ${((performance.now() - t) / 1000).toFixed(0)} s`);
          },
        });
        const trainMs = performance.now() - t;
        await w.model.saveSkill({ name, task: { kind: 'adapter', adapter: name } });
        return { report, trainMs, file: await w.client.exportSkill(name) };
      },
      { train, name: SKILL },
    );
    tuned = await answer(page, SKILL);
    ({ report } = result);
    exported = result.file;
    const before = exactMatch(base);
    const after = exactMatch(tuned);
    console.log(
      `SmolLM2 fine-tune (${train.length} examples, ${report.heldOut.length} of them held out by fineTune, ${report.trainLoss.length} steps, WASM): ${(result.trainMs / 1000).toFixed(0)} s in fineTune, ${((performance.now() - started) / 1000).toFixed(0)} s in all; ` +
        `fixed held-out exact match ${(before * 100).toFixed(0)} % before → ${(after * 100).toFixed(0)} % after (chance ${(CHANCE * 100).toFixed(0)} %); ` +
        `the report's own split: ${(report.before.exactMatch * 100).toFixed(0)} % → ${(report.after.exactMatch * 100).toFixed(0)} % on ${report.heldOut.length}; ` +
        `held-out loss ${report.heldOutLoss.map((p) => p.loss.toFixed(3)).join(' → ')}; adapter ${report.adapterBytes} bytes`,
    );
    console.log(heldOut.map((e, i) => `${e.completion}\t${JSON.stringify(base[i])}\t${JSON.stringify(tuned[i])}`).join('\n'));
    expect(after).toBeGreaterThanOrEqual(GOAL);
    expect(before).toBeLessThanOrEqual(CHANCE);
    expect(report.after.exactMatch).toBeGreaterThan(report.before.exactMatch);
  }, 1_500_000);

  it('the adapter skill, exported from that profile and imported in a fresh one, gives the same answers through runSkill', async () => {
    expect(exported).not.toBe('');
    const page = await profile();
    // runSkill takes the plain message and formats it as a user turn, as fineTune trained the adapter.
    const answers = await page.evaluate(
      async ({ file, name, prompts }) => {
        const w = window as unknown as W;
        await w.client.importSkill(file);
        const out: string[] = [];
        for (const p of prompts) out.push((await w.model.runSkill(name, p)) as string);
        return out;
      },
      { file: exported, name: SKILL, prompts: heldOut.map((e) => e.prompt) },
    );
    expect(answers).toEqual(tuned);
    expect(exactMatch(answers)).toBeGreaterThanOrEqual(GOAL);
  }, 600_000);
});
