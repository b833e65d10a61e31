/**
 * A Hub repo by its id: the harness server stands in for huggingface.co at a configured hub host,
 * serving SmolLM2's converted folder exactly as the Hub lays it out (`/{org}/{name}/resolve/main/{file}`,
 * no manifest.json: a 404 as the Hub answers), and counts every request the runtime makes.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { appUrl, openHarness, useBrowser } from './support/browser.ts';
import { inPage } from './support/page-calls.ts';
import { resetServer, servedRequests } from './support/server-control.ts';

const REPO = 'HuggingFaceTB/SmolLM2-135M-Instruct';
const BASE = `/hub/${REPO}/resolve/main/`;

type Reply = { content: string | null; backend: string; kind: string; url: string };

/** A fresh client with the hub host set loads the repo by id (q4, WASM) and answers one chat message. */
function chatByRepoId(page: Page): Promise<Reply> {
  return inPage(
    page,
    async ({ hubHost, repo }: { hubHost: string; repo: string }) => {
      const client = await window.slm.SlmClient.inWorker({ env: { hubHost } });
      const model = await client.load(repo, { dtype: 'q4', device: 'wasm' });
      const c = await model.chat.completions.create({ messages: [{ role: 'user', content: 'What is the capital of France? Answer in one word.' }], max_tokens: 16 });
      const { backend, kind, url } = model.info;
      client.terminate();
      return { content: c.choices[0]!.message.content, backend, kind, url };
    },
    { hubHost: appUrl('hub'), repo: REPO },
  );
}

describe('a Hub repo in the Hub layout, loaded by its id', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;
  beforeAll(async () => {
    page = await openHarness(browser());
    await resetServer();
  });

  it('loads from {hubHost}/{repo}/resolve/main/, each file it needs requested once, and chats in its template', async () => {
    const reply = await chatByRepoId(page);
    expect(reply).toMatchObject({ backend: 'wasm', kind: 'decoder', url: appUrl(BASE.slice(1)) });
    expect(reply.content).toMatch(/Paris/);
    const served = await servedRequests('/hub/');
    expect(served.map((r) => `${r.path} ${r.status}`).sort()).toEqual(
      ['manifest.json 404', 'config.json 200', 'tokenizer.json 200', 'tokenizer_config.json 200', 'onnx/model_q4.onnx 200'].map((f) => BASE + f).sort(),
    );
  }, 300_000);

  it('a second load in the same profile reads every file from the cache; only the manifest probe reaches the hub', async () => {
    await resetServer();
    const reply = await chatByRepoId(page);
    expect(reply.content).toMatch(/Paris/);
    // A repo without manifest.json has no revision to trust offline-first, so each load asks for one (a 404 here).
    expect((await servedRequests('/hub/')).map((r) => `${r.path} ${r.status}`)).toEqual([`${BASE}manifest.json 404`]);
  }, 300_000);
});
