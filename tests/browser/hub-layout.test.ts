/**
 * A Hub repo by its id: a route serves SmolLM2's folder exactly as huggingface.co lays it out
 * (`/{org}/{name}/resolve/{revision}/{file}`, no manifest.json: a 404 as the Hub answers), at the
 * configurable hub host, and counts every request the runtime makes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { SMOLLM2_135M_INSTRUCT } from '../../models/sources.ts';
import { MODELS_DIR } from '../support/sources.ts';
import { openHarness, useBrowser } from './support/browser.ts';
import { inPage } from './support/page-calls.ts';

const HUB = 'https://hub.test';
const REPO = 'HuggingFaceTB/SmolLM2-135M-Instruct';
/** The files of the Hub repo (the converter writes the same layout, plus manifest.json and gguf/ which the Hub repo lacks). */
const HUB_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/model_quantized.onnx', 'onnx/model_q4.onnx', 'onnx/model_q4f16.onnx'];
const DIR = join(MODELS_DIR, SMOLLM2_135M_INSTRUCT.id);

/** Serves the repo at HUB in `context`; returns the list of requested paths, in order. */
async function serveHubRepo(context: BrowserContext): Promise<string[]> {
  const requested: string[] = [];
  const prefix = `/${REPO}/resolve/main/`;
  // COEP pages read cross-origin files only with CORS, as the Hub sends it.
  const headers = { 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' };
  await context.route(`${HUB}/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    requested.push(path);
    const file = path.startsWith(prefix) ? path.slice(prefix.length) : null;
    if (file === null || !HUB_FILES.includes(file) || !existsSync(join(DIR, file))) {
      return route.fulfill({ status: 404, headers: { ...headers, 'x-error-code': 'EntryNotFound' }, contentType: 'text/plain', body: 'Entry not found' });
    }
    return route.fulfill({ status: 200, headers, contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream', body: readFileSync(join(DIR, file)) });
  });
  return requested;
}

type Reply = { content: string | null; backend: string; kind: string; url: string };

async function chatByRepoId(page: Page): Promise<Reply> {
  return inPage(
    page,
    async ({ hub, repo }: { hub: string; repo: string }) => {
      const client = await window.slm.SlmClient.inWorker({ env: { hubHost: hub } });
      const model = await client.load(repo, { dtype: 'q4', device: 'wasm' });
      const c = await model.chat.completions.create({ messages: [{ role: 'user', content: 'What is the capital of France? Answer in one word.' }], max_tokens: 16 });
      const { backend, kind, url } = model.info;
      client.terminate();
      return { content: c.choices[0]!.message.content, backend, kind, url };
    },
    { hub: HUB, repo: REPO },
  );
}

describe('a Hub repo in the Hub layout, loaded by its id', () => {
  const browser = useBrowser({ webgpu: false });
  let context: BrowserContext;
  let requested: string[];
  beforeAll(async () => {
    expect(existsSync(join(DIR, 'manifest.json'))).toBe(true); // the route below must not serve it
    context = await browser().newContext();
    requested = await serveHubRepo(context);
  });

  it('loads from {hubHost}/{repo}/resolve/main/, each needed file requested once, and chats in its template', async () => {
    const reply = await chatByRepoId(await openHarness(context));
    expect(reply).toMatchObject({ backend: 'wasm', kind: 'decoder', url: `${HUB}/${REPO}/resolve/main/` });
    expect(reply.content).toMatch(/Paris/);
    const base = `/${REPO}/resolve/main/`;
    expect([...requested].sort()).toEqual(['manifest.json', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model_q4.onnx'].map((f) => base + f).sort());
  }, 300_000);

  it('a second load in the same profile reads every file from the cache: no request reaches the Hub', async () => {
    requested.length = 0;
    const reply = await chatByRepoId(await openHarness(context));
    expect(reply.content).toMatch(/Paris/);
    expect(requested).toEqual([]);
  }, 300_000);
});
