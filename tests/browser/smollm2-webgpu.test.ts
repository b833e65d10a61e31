/**
 * SmolLM2-135M-Instruct in Chromium with a real WebGPU adapter that lacks `shader-f16` (SwiftShader):
 * automatic weights become q4 on WebGPU (and chat works through the demo), explicit q4f16 weights
 * are kept off WebGPU with the reason, and q4f16 on WASM greedy-decodes as fp32 does in onnxruntime-node.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { SMOLLM2_135M_INSTRUCT } from '../../models/sources.ts';
import type { LoadOptions, ModelInfo } from '../../src/index.ts';
import { NodeDecoder } from '../support/ort-node.ts';
import { MODELS_DIR } from '../support/sources.ts';
import { openHarness, useBrowser } from './support/browser.ts';
import { loadInDemo, openDemo, panelError } from './support/demo.ts';
import { failureOf, inPage } from './support/page-calls.ts';

const DIR = join(MODELS_DIR, SMOLLM2_135M_INSTRUCT.id);
const NO_F16 = /the adapter \(google swiftshader\) lacks shader-f16, which q4f16 weights need/;
const HAIKU = '<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n';
/** 42 tokens: more than one WebGPU run takes (WEBGPU_MAX_RUN), and more than the 32 that broke it. */
const FRANCE =
  '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France? Answer in one word.<|im_end|>\n<|im_start|>assistant\n';

/** fp32's first 8 greedy tokens after `prompt` (fewer if an end token comes first), in onnxruntime-node (CPU), on the ids the runtime's tokenizer gives. */
async function fp32Greedy8(prompt: string): Promise<number[]> {
  const json = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Record<string, unknown>;
  const ids = new PreTrainedTokenizer(json('tokenizer.json'), json('tokenizer_config.json')).encode(prompt);
  const ends = [json('config.json').eos_token_id].flat();
  const decoder = await NodeDecoder.open(join(DIR, 'onnx', 'model.onnx'), { layers: 30, kvHeads: 3, headSize: 64, vocab: 49152 });
  let row = (await decoder.feed(ids, 1)).at(-1)!;
  const out: number[] = [];
  while (out.length < 8) {
    const next = row.indexOf(Math.max(...row));
    if (ends.includes(next)) break;
    out.push(next);
    row = (await decoder.feed([next], 1))[0]!;
  }
  return out;
}

/** A fresh client on `page` loads SmolLM2 with `load` and greedy-decodes up to 8 tokens after `prompt`; the page is closed after. */
async function greedyInPage(page: Page, load: LoadOptions, prompt: string): Promise<{ info: ModelInfo; tokenIds: number[]; promptTokens: number }> {
  const run = await inPage(
    page,
    async ({ load, prompt }: { load: LoadOptions; prompt: string }) => {
      const client = await window.slm.SlmClient.inWorker();
      const model = await client.load('smollm2-135m-instruct', load);
      const { tokenIds, stats } = await model.generate(prompt, { maxNewTokens: 8 });
      return { info: model.info, tokenIds, promptTokens: stats.promptTokens };
    },
    { load, prompt },
  );
  await page.close();
  return run;
}

describe('SmolLM2 with a WebGPU adapter without shader-f16 (SwiftShader)', () => {
  const browser = useBrowser({ webgpu: true });

  it('the demo with automatic weights loads q4 on WebGPU, says why, and chats in the model\'s own template', async () => {
    const page = await openDemo(browser(), '?model=smollm2-135m-instruct&dtype=auto&device=auto');
    const status = await loadInDemo(page, 240_000);
    expect(status).toMatch(/^Ready · smollm2-135m-instruct · WEBGPU · q4 · /);
    expect(status).toMatch(new RegExp(`· auto: q4, because ${NO_F16.source}$`));
    await page.getByLabel('Message').fill('What is the capital of France? Answer in one word.');
    await page.getByRole('button', { name: 'Send' }).click();
    const reply = page.locator('.bubble.assistant');
    await expect.poll(async () => (await reply.textContent()) ?? '', { timeout: 240_000 }).toMatch(/Paris/);
    await page.waitForSelector('#chat-send:not([disabled])', { timeout: 240_000 });
    console.log(`SmolLM2 chat on WebGPU (SwiftShader): ${JSON.stringify(await reply.textContent())}`);
    expect(await reply.textContent()).not.toMatch(/<\|im_(start|end)\|>/);
    expect(await panelError(page, 'Chat')).toBe('');
    await page.close();
  }, 600_000);

  it('q4 on WebGPU greedy-decodes fp32\'s first 8 tokens after a 42-token chat prompt', async () => {
    const run = await greedyInPage(await openHarness(browser()), { dtype: 'q4', device: 'webgpu' }, FRANCE);
    expect(run).toMatchObject({ info: { backend: 'webgpu' }, promptTokens: 42 });
    expect(run.tokenIds).toEqual(await fp32Greedy8(FRANCE));
  }, 400_000);

  it('explicit q4f16 weights on device auto run on WASM, say the adapter lacks shader-f16, and greedy-decode fp32\'s first 8 tokens', async () => {
    const run = await greedyInPage(await openHarness(browser()), { dtype: 'q4f16', device: 'auto' }, HAIKU);
    expect(run.info).toMatchObject({ backend: 'wasm', dtype: 'q4f16', dtypeReason: 'q4f16 was requested', fellBack: false });
    expect(run.info.backendReason).toMatch(new RegExp(`^WebGPU unavailable \\(${NO_F16.source}\\); using WASM$`));
    expect(run.tokenIds).toEqual(await fp32Greedy8(HAIKU));
  }, 300_000);

  it('explicit q4f16 weights on device webgpu are a BackendUnavailableError naming shader-f16', async () => {
    const page = await openHarness(browser());
    const failure = await failureOf(page, async () => {
      const client = await window.slm.SlmClient.inWorker();
      await client.load('smollm2-135m-instruct', { dtype: 'q4f16', device: 'webgpu' });
    });
    expect(failure).toMatchObject({ name: 'BackendUnavailableError', code: 'backend-unavailable', isSlmError: true });
    expect(failure.message).toMatch(new RegExp(`^WebGPU was requested but ${NO_F16.source}$`));
    await page.close();
  }, 300_000);
});
