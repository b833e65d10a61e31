/**
 * The IndexedDB weight cache in real Chromium, counting bytes served by the test server: second loads
 * and offline reloads without the network, resume after a dropped connection, rejected files leaving
 * nothing behind, quota, two tabs, deletion, eviction, and no CacheStorage use.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, normalize } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../models/sources.ts';
import type { ProgressEvent } from '../../src/types.ts';
import { KNOWN_GOOD, STORIES_DIR } from '../support/sources.ts';
import { appUrl, useBrowser } from './support/browser.ts';
import { dropHeldConnections, resetServer, servedRequests, setFault } from './support/server-control.ts';

const CHUNK = 64 * 1024;
const MODEL = '/models/stories260k/';
const ONNX = `${MODEL}onnx/model.onnx`;
const ONNX_SIZE = statSync(join(STORIES_DIR, 'onnx/model.onnx')).size;

interface LoadOutcome {
  ok: boolean;
  error?: { name: string; code: string; message: string };
  text?: string;
  storage?: { persistent: boolean; reason?: string };
  progress: ProgressEvent[];
}

/** Opens the harness in `context`, starts a client with small chunks, loads `model` and generates. */
async function loadIn(context: BrowserContext, model = 'stories260k', options: Record<string, unknown> = {}, cacheConfig: Record<string, unknown> = {}): Promise<{ page: Page; outcome: LoadOutcome }> {
  const page = await openHarness(context);
  return { page, outcome: await loadOn(page, model, options, cacheConfig) };
}

async function openHarness(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(appUrl('tests/browser/harness/index.html'));
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

function loadOn(page: Page, model = 'stories260k', options: Record<string, unknown> = {}, cacheConfig: Record<string, unknown> = {}): Promise<LoadOutcome> {
  return page.evaluate(
    async ({ model, options, cache, prompt }) => {
      const progress: ProgressEvent[] = [];
      const client = await window.slm.SlmClient.inWorker({ env: { cache: { dbName: 'browser-slm', chunkBytes: 65536, ...cache } } as never });
      (window as unknown as { client: unknown }).client = client;
      try {
        const m = await client.load(model, { dtype: 'fp32', ...options, onProgress: (e) => progress.push(e) });
        const { text } = await m.generate(prompt, { maxNewTokens: 20 });
        return { ok: true, text, storage: m.info.storage, progress };
      } catch (e) {
        const err = e as { name: string; code: string; message: string };
        return { ok: false, error: { name: err.name, code: err.code, message: err.message }, progress };
      }
    },
    { model, options, cache: cacheConfig, prompt: KNOWN_GOOD.prompt },
  );
}

/** What IndexedDB holds, read from the page: each file record and its number of chunks. */
function inspectDb(page: Page): Promise<{ files: Array<{ path: string; modelKey: string; complete: boolean; storedBytes: number; chunks: number }>; chunks: number; models: number }> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('browser-slm');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const req = <T>(r: IDBRequest<T>): Promise<T> => new Promise((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))));
    const tx = db.transaction(['files', 'chunks', 'models'], 'readonly');
    const files = (await req(tx.objectStore('files').getAll())) as Array<{ key: string; path: string; modelKey: string; complete: boolean; storedBytes: number }>;
    const result = [];
    for (const f of files) {
      const chunks = await req(tx.objectStore('chunks').count(IDBKeyRange.bound([f.key, 0], [f.key, Number.MAX_SAFE_INTEGER])));
      result.push({ path: f.path, modelKey: f.modelKey, complete: f.complete, storedBytes: f.storedBytes, chunks });
    }
    const out = { files: result, chunks: await req(tx.objectStore('chunks').count()), models: await req(tx.objectStore('models').count()) };
    db.close();
    return out;
  });
}

const expectReference = (outcome: LoadOutcome): void => {
  expect(outcome.error).toBeUndefined();
  expect(KNOWN_GOOD.text.startsWith(KNOWN_GOOD.prompt + outcome.text)).toBe(true);
};

describe('IndexedDB weight cache in Chromium', () => {
  const browser = useBrowser({ webgpu: false });
  let context: BrowserContext;
  beforeEach(async () => {
    await resetServer();
    await context?.close();
    context = await browser().newContext();
  });

  it('a second load requests no model bytes; with the network cut, a reload still loads and generates', async () => {
    const first = await loadIn(context);
    expectReference(first.outcome);
    const served = await servedRequests();
    expect(served.map((r) => r.path).sort()).toEqual([`${MODEL}config.json`, `${MODEL}manifest.json`, ONNX, `${MODEL}tokenizer.json`, `${MODEL}tokenizer_config.json`].sort());
    const last = first.outcome.progress.at(-1)!;
    expect(last.cacheBytes).toBe(0);
    expect(last.networkBytes).toBe(last.totalBytes);
    const network = first.outcome.progress.map((e) => e.networkBytes);
    expect(network).toEqual([...network].sort((a, b) => a - b)); // monotonic

    await resetServer();
    await first.page.reload();
    const second = await loadIn(context);
    expectReference(second.outcome);
    expect(await servedRequests()).toEqual([]);
    const done = second.outcome.progress.at(-1)!;
    expect(done.networkBytes).toBe(0);
    expect(done.cacheBytes).toBe(done.totalBytes);
    expect(second.outcome.progress.filter((e) => e.phase === 'fetch').every((e) => e.source === 'cache')).toBe(true);

    // Network cut: the app shell is served locally from the build, model files have no network at all.
    const dist = join(PROJECT_ROOT, 'dist-harness');
    await context.route('**/*', async (route) => {
      const path = decodeURIComponent(new URL(route.request().url()).pathname);
      if (path.startsWith('/models/') || path.startsWith('/__test/')) return route.abort('internetdisconnected');
      const file = normalize(join(dist, path));
      const type = path.endsWith('.html') ? 'text/html' : path.endsWith('.wasm') ? 'application/wasm' : path.endsWith('.css') ? 'text/css' : 'text/javascript';
      try {
        return await route.fulfill({ status: 200, contentType: type, body: readFileSync(file) });
      } catch {
        return route.abort('internetdisconnected');
      }
    });
    await context.setOffline(true);
    const offline = await loadIn(context);
    expectReference(offline.outcome);
    expect(offline.outcome.storage?.persistent).toBe(true);
    await context.setOffline(false);
  });

  it('resumes a download dropped at ~50 % with a Range request, serving at most one chunk twice', async () => {
    const half = Math.floor(ONNX_SIZE / 2);
    // The server sends half the file and holds the connection until the page has stored every whole
    // chunk of it, so the drop lands at a known byte whatever the machine's speed.
    await setFault(ONNX, { kind: 'hold-after', bytes: half });
    const page = await openHarness(context);
    const pending = loadOn(page);
    await expect.poll(async () => (await servedRequests()).some((r) => r.path === ONNX), { timeout: 30_000 }).toBe(true);
    const onnxRecord = async () => (await inspectDb(page)).files.find((f) => f.path === 'onnx/model.onnx');
    await expect.poll(async () => (await onnxRecord())?.chunks, { timeout: 30_000 }).toBe(Math.floor(half / CHUNK));
    expect(await dropHeldConnections()).toBe(1);
    expect((await pending).error).toMatchObject({ name: 'NetworkError', code: 'network' });
    const partial = (await onnxRecord())!;
    expect(partial).toMatchObject({ complete: false, chunks: Math.floor(half / CHUNK), storedBytes: Math.floor(half / CHUNK) * CHUNK });

    await setFault(ONNX, null);
    await page.close();
    const resumed = await loadIn(context);
    expectReference(resumed.outcome);
    const onnxRequests = (await servedRequests()).filter((r) => r.path === ONNX);
    expect(onnxRequests).toHaveLength(2);
    expect(onnxRequests[1]).toMatchObject({ range: `bytes=${partial.storedBytes}-`, status: 206 });
    expect(onnxRequests.reduce((n, r) => n + r.bytes, 0)).toBeLessThanOrEqual(ONNX_SIZE + CHUNK);
    const complete = (await inspectDb(resumed.page)).files.find((f) => f.path === 'onnx/model.onnx')!;
    expect(complete).toMatchObject({ complete: true, storedBytes: ONNX_SIZE, chunks: Math.ceil(ONNX_SIZE / CHUNK) });
  });

  it.each([
    ['a bit-flipped file', { kind: 'bitflip' }, 'IntegrityError'],
    ['a truncated file', { kind: 'truncate', bytes: 4096 }, 'InvalidModelFileError'],
    ['an HTTP 500', { kind: 'status', status: 500 }, 'InvalidModelFileError'],
    ['an HTML page with status 200', { kind: 'html' }, 'InvalidModelFileError'],
  ] as const)('%s gives %s and leaves no entry for the file; the next load after the fix works', async (_label, fault, errorName) => {
    await setFault(ONNX, fault);
    const failed = await loadIn(context);
    expect(failed.outcome.error?.name).toBe(errorName);
    expect(failed.outcome.error?.message).toContain(`${MODEL}onnx/model.onnx`);
    const db = await inspectDb(failed.page);
    expect(db.files.find((f) => f.path === 'onnx/model.onnx')).toBeUndefined();
    expect(db.files.filter((f) => f.complete).every((f) => f.chunks > 0 && f.path !== 'onnx/model.onnx')).toBe(true);
    await setFault(ONNX, null);
    expectReference((await loadIn(context)).outcome);
  });

  it('fails before downloading when the quota is smaller than the model, or runs from memory when allowed', async () => {
    const page = await context.newPage();
    await page.goto(appUrl('tests/browser/harness/index.html'));
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(appUrl()).origin, quotaSize: 600_000 });
    const refused = await loadIn(context);
    expect(refused.outcome.error).toMatchObject({ name: 'QuotaExceededError', code: 'quota-exceeded' });
    expect((await servedRequests()).filter((r) => r.path.includes('/onnx/'))).toEqual([]);

    const fromMemory = await loadIn(context, 'stories260k', { memoryFallback: true });
    expectReference(fromMemory.outcome);
    expect(fromMemory.outcome.storage).toMatchObject({ persistent: false, reason: expect.stringMatching(/running from memory: the model needs \d+ bytes of storage but only \d+ are free/) });
    expect((await inspectDb(fromMemory.page)).files.find((f) => f.path === 'onnx/model.onnx')).toBeUndefined();
  });

  it('two pages loading the same model at once fetch each file once', async () => {
    const [a, b] = await Promise.all([loadIn(context), loadIn(context)]);
    expectReference(a.outcome);
    expectReference(b.outcome);
    const counts = new Map<string, number>();
    for (const r of await servedRequests()) counts.set(r.path, (counts.get(r.path) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.get(ONNX)).toBe(1);
    const sources = [a, b].map((x) => new Set(x.outcome.progress.filter((e) => e.file === 'onnx/model.onnx').map((e) => e.source)));
    expect(sources.some((s) => s.has('network')) && sources.some((s) => s.has('cache'))).toBe(true);
  });

  it('delete and clear remove the chunks; a byte budget evicts the least recently used model', async () => {
    const budget = Math.floor(ONNX_SIZE * 1.6);
    const first = await loadIn(context, '/models/copy-a/', {}, { budgetBytes: budget });
    expectReference(first.outcome);
    const second = await loadIn(context, '/models/copy-b/', {}, { budgetBytes: budget });
    expectReference(second.outcome);
    const afterEviction = await inspectDb(second.page);
    expect(afterEviction.files.some((f) => f.modelKey.includes('/copy-a/'))).toBe(false);
    expect(afterEviction.files.filter((f) => f.modelKey.includes('/copy-b/')).length).toBe(4);
    expect(afterEviction.files.reduce((n, f) => n + f.storedBytes, 0)).toBeLessThanOrEqual(budget);

    const listed = await second.page.evaluate(() => (window as unknown as { client: import('../../src/index.ts').SlmClient }).client.cachedModels());
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ url: expect.stringMatching(/\/copy-b\/$/), files: 4 });
    await second.page.evaluate((key) => (window as unknown as { client: import('../../src/index.ts').SlmClient }).client.deleteCachedModel(key), listed[0]!.key);
    expect(await inspectDb(second.page)).toEqual({ files: [], chunks: 0, models: 0 });

    const third = await loadIn(context);
    expectReference(third.outcome);
    expect((await inspectDb(third.page)).chunks).toBeGreaterThan(0);
    await third.page.evaluate(() => (window as unknown as { client: import('../../src/index.ts').SlmClient }).client.clearCache());
    expect(await inspectDb(third.page)).toEqual({ files: [], chunks: 0, models: 0 });
  });

  it('creates no CacheStorage entries for model files', async () => {
    const { page, outcome } = await loadIn(context);
    expectReference(outcome);
    const cached = await page.evaluate(async () => {
      const urls: string[] = [];
      for (const name of await caches.keys()) for (const req of await (await caches.open(name)).keys()) urls.push(req.url);
      return urls;
    });
    expect(cached.filter((u) => u.includes('/models/'))).toEqual([]);
  });
});
