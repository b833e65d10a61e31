/**
 * The IndexedDB weight cache in Node, on fake-indexeddb, against a local HTTP server with Range
 * support and injected faults: chunking, verification, resume, rejection without leftovers, eviction.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AbortError, IntegrityError, InvalidModelFileError, NetworkError, QuotaExceededError } from '../../src/errors.ts';
import { chunkRange, openDatabase as openCacheDb, SCHEMA_VERSION } from '../../src/storage/database.ts';
import type { FileSpec } from '../../src/storage/download.ts';
import type { ByteSource } from '../../src/types.ts';
import { openStores } from '../../src/storage/stores.ts';
import { WeightCache, type CacheConfig, type ModelRef } from '../../src/storage/weight-cache.ts';

const openWeightCache = async (config: CacheConfig): Promise<WeightCache> => (await openStores(config)).weights;
import { startFileServer, type FileServer } from '../support/file-server.ts';
import { STORIES_DIR } from '../support/sources.ts';

const CHUNK = 128 * 1024;
const manifest = JSON.parse(readFileSync(join(STORIES_DIR, 'manifest.json'), 'utf8')) as { revision: string; files: Record<string, { bytes: number; sha256: string }> };
const onnxPath = 'onnx/model.onnx';
const onnxBytes = new Uint8Array(readFileSync(join(STORIES_DIR, onnxPath)));
const spec = (path: string, kind: FileSpec['kind'] = 'onnx', withManifest = true): FileSpec => ({
  path,
  kind,
  ...(withManifest && { size: manifest.files[path]!.bytes, sha256: manifest.files[path]!.sha256 }),
});

/** Byte equality without a deep, element-by-element comparison of a megabyte array. */
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

let server: FileServer;
let dbCounter = 0;
let cache: WeightCache;
let ref: ModelRef;

/** What IndexedDB holds for one file: its record and how many chunk values. */
async function stored(path: string): Promise<{ record: unknown; chunks: number }> {
  const db = await openCacheDb(cache.config.dbName);
  const key = `${WeightCache.modelKey(ref)}/${path}`;
  const result = { record: await db.get('files', key), chunks: await db.count('chunks', chunkRange(key)) };
  db.close();
  return result;
}

function progressLog(): { events: Array<{ loaded: number; source: ByteSource }>; onProgress: (loaded: number, total: number | undefined, source: ByteSource) => void } {
  const events: Array<{ loaded: number; source: ByteSource }> = [];
  return { events, onProgress: (loaded, _total, source) => events.push({ loaded, source }) };
}

beforeAll(async () => {
  const files: Record<string, Uint8Array> = {};
  for (const path of Object.keys(manifest.files)) files[`/m/${path}`] = new Uint8Array(readFileSync(join(STORIES_DIR, path)));
  server = await startFileServer(files);
});
afterAll(() => server.close());
beforeEach(async () => {
  cache = await openWeightCache({ dbName: `test-${++dbCounter}`, chunkBytes: CHUNK });
  ref = { id: 'stories260k', revision: manifest.revision, baseUrl: `${server.url}/m/`, manifest };
  server.faults.clear();
  server.requests.length = 0;
});

describe('IndexedDB weight cache', () => {
  it('stores a file as verified chunks and serves the second read without the network', async () => {
    expect(cache.persistent).toBe(true);
    const first = progressLog();
    const bytes = await cache.get(ref, spec(onnxPath), { onProgress: first.onProgress });
    expect(sameBytes(bytes, onnxBytes)).toBe(true);
    const { record, chunks } = await stored(onnxPath);
    expect(chunks).toBe(Math.ceil(onnxBytes.byteLength / CHUNK));
    expect(record).toMatchObject({ complete: true, storedBytes: onnxBytes.byteLength, sha256: manifest.files[onnxPath]!.sha256 });
    expect(first.events.every((e) => e.source === 'network')).toBe(true);
    expect(first.events.map((e) => e.loaded)).toEqual([...first.events.map((e) => e.loaded)].sort((a, b) => a - b));

    server.requests.length = 0;
    const second = progressLog();
    expect(sameBytes(await cache.get(ref, spec(onnxPath), { onProgress: second.onProgress }), onnxBytes)).toBe(true);
    expect(server.requests).toEqual([]);
    expect(second.events).toEqual([{ loaded: onnxBytes.byteLength, source: 'cache' }]);
  });

  it('resumes a broken-off download with a Range request from the first missing byte', async () => {
    const path = `/m/${onnxPath}`;
    server.faults.set(path, { kind: 'drop-after', bytes: Math.floor(onnxBytes.byteLength / 2) });
    await expect(cache.get(ref, spec(onnxPath))).rejects.toThrow(NetworkError);
    const partial = await stored(onnxPath);
    expect(partial.record).toMatchObject({ complete: false });
    const held = (partial.record as { storedBytes: number }).storedBytes;
    expect(held).toBeGreaterThan(0);
    expect(held % CHUNK).toBe(0);
    expect(await cache.match(ref, onnxPath)).toBeNull(); // not visible while incomplete

    server.faults.clear();
    expect(sameBytes(await cache.get(ref, spec(onnxPath)), onnxBytes)).toBe(true);
    const retry = server.requests.at(-1)!;
    expect(retry).toMatchObject({ range: `bytes=${held}-`, status: 206, bytes: onnxBytes.byteLength - held });
    expect(server.bytesServed(path)).toBeLessThanOrEqual(onnxBytes.byteLength + CHUNK);
  });

  it('falls back to a full download when the server ignores Range', async () => {
    const path = `/m/${onnxPath}`;
    server.faults.set(path, { kind: 'drop-after', bytes: 300_000 });
    await expect(cache.get(ref, spec(onnxPath))).rejects.toThrow(NetworkError);
    server.faults.set(path, { kind: 'ignore-range' });
    expect(sameBytes(await cache.get(ref, spec(onnxPath)), onnxBytes)).toBe(true);
    expect(server.requests.at(-1)).toMatchObject({ status: 200, bytes: onnxBytes.byteLength });
    expect((await stored(onnxPath)).chunks).toBe(Math.ceil(onnxBytes.byteLength / CHUNK));
  });

  it('an aborted download keeps its chunks for later', async () => {
    const controller = new AbortController();
    const download = cache.get(ref, spec(onnxPath), { signal: controller.signal, onProgress: (loaded) => loaded > 200_000 && controller.abort() });
    await expect(download).rejects.toThrow(AbortError);
    expect(((await stored(onnxPath)).record as { storedBytes: number }).storedBytes).toBeGreaterThan(0);
  });

  it.each([
    ['a bit-flipped file', { kind: 'bitflip' } as const, IntegrityError, /SHA-256 .* does not match/],
    ['a truncated file', { kind: 'truncate', bytes: 1000 } as const, InvalidModelFileError, /server says 1000 bytes, the manifest says/],
    ['an HTTP 500', { kind: 'status', status: 500 } as const, InvalidModelFileError, /answered HTTP 500/],
    ['an HTML page with status 200', { kind: 'html' } as const, InvalidModelFileError, /returned an HTML page/],
  ])('%s is rejected with a typed error naming the URL, leaving nothing stored', async (_label, fault, errorClass, message) => {
    server.faults.set(`/m/${onnxPath}`, fault);
    const failure = await cache.get(ref, spec(onnxPath)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(errorClass);
    expect((failure as Error).message).toMatch(message);
    expect((failure as Error).message).toContain(`${server.url}/m/${onnxPath}`);
    expect(await stored(onnxPath)).toEqual({ record: undefined, chunks: 0 });
    server.faults.clear();
    expect(sameBytes(await cache.get(ref, spec(onnxPath)), onnxBytes)).toBe(true);
  });

  it('records the computed SHA-256 when there is no manifest', async () => {
    const bare: ModelRef = { ...ref, revision: 'main', manifest: null };
    await cache.get(bare, spec('tokenizer.json', 'json', false));
    const db = await openCacheDb(cache.config.dbName);
    const rec = await db.get('files', `${WeightCache.modelKey(bare)}/tokenizer.json`);
    db.close();
    expect(rec).toMatchObject({ complete: true, sha256: manifest.files['tokenizer.json']!.sha256 });
  });

  it('lists, deletes and clears models, removing every chunk', async () => {
    const other: ModelRef = { ...ref, revision: 'other' };
    await cache.get(ref, spec(onnxPath));
    await cache.get(other, spec('config.json', 'json'));
    const listed = await cache.list();
    expect(listed.map((m) => m.revision).sort()).toEqual([manifest.revision, 'other'].sort());
    expect(listed.find((m) => m.revision === manifest.revision)).toMatchObject({ bytes: onnxBytes.byteLength, files: 1, partialBytes: 0 });

    await cache.delete(WeightCache.modelKey(ref));
    expect(await stored(onnxPath)).toEqual({ record: undefined, chunks: 0 });
    expect((await cache.list()).map((m) => m.revision)).toEqual(['other']);
    await cache.clear();
    const db = await openCacheDb(cache.config.dbName);
    expect([await db.count('chunks'), await db.count('files'), await db.count('models')]).toEqual([0, 0, 0]);
    db.close();
  });

  it('drops superseded revisions of the same model, and only those', async () => {
    const old: ModelRef = { ...ref, revision: 'old' };
    const elsewhere: ModelRef = { ...ref, baseUrl: `${server.url}/elsewhere/`, revision: 'old' };
    await cache.get(old, spec('config.json', 'json'));
    server.files.set('/elsewhere/config.json', server.files.get('/m/config.json')!);
    await cache.get(elsewhere, spec('config.json', 'json'));
    await cache.get(ref, spec('config.json', 'json'));
    expect(await cache.deleteOtherRevisions(ref)).toEqual([WeightCache.modelKey(old)]);
    expect((await cache.list()).map((m) => m.key).sort()).toEqual([WeightCache.modelKey(elsewhere), WeightCache.modelKey(ref)].sort());
  });

  it('evicts least recently used models beyond the budget and refuses a model larger than it', async () => {
    const budgeted = await openWeightCache({ dbName: `test-${++dbCounter}`, chunkBytes: CHUNK, budgetBytes: onnxBytes.byteLength + 100_000 });
    const older: ModelRef = { ...ref, revision: 'older' };
    await budgeted.get(older, spec(onnxPath));
    await new Promise((r) => setTimeout(r, 5));
    await budgeted.get(ref, spec(onnxPath));
    expect(await budgeted.enforceBudget(WeightCache.modelKey(ref))).toEqual([WeightCache.modelKey(older)]);
    const left = await budgeted.list();
    expect(left.map((m) => m.revision)).toEqual([manifest.revision]);
    expect(left.reduce((n, m) => n + m.bytes, 0)).toBeLessThanOrEqual(budgeted.config.budgetBytes!);

    const tiny = await openWeightCache({ dbName: `test-${++dbCounter}`, chunkBytes: CHUNK, budgetBytes: 1000 });
    await expect(tiny.checkSpace(ref, [spec(onnxPath)])).rejects.toThrow(QuotaExceededError);
  });

  it('works from memory, and says why, where IndexedDB is unavailable', async () => {
    const saved = globalThis.indexedDB;
    // @ts-expect-error simulating a context without IndexedDB
    delete globalThis.indexedDB;
    try {
      const memory = await openWeightCache({ dbName: 'none', chunkBytes: CHUNK });
      expect(memory.persistent).toBe(false);
      expect(memory.unavailableReason).toMatch(/IndexedDB is not available/);
      expect(sameBytes(await memory.get(ref, spec(onnxPath)), onnxBytes)).toBe(true);
      expect(await memory.list()).toEqual([]);
    } finally {
      globalThis.indexedDB = saved;
    }
  });

  it('opens schema version 2 with its five stores', async () => {
    const db = await openCacheDb(`test-${++dbCounter}`);
    expect(db.version).toBe(SCHEMA_VERSION);
    expect([...db.objectStoreNames].sort()).toEqual(['chunks', 'documents', 'files', 'models', 'skills']);
    db.close();
  });

  it('migrates a version 1 database to version 2, keeping its models', async () => {
    const name = `test-${++dbCounter}`;
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore('models', { keyPath: 'key' });
        req.result.createObjectStore('files', { keyPath: 'key' }).createIndex('byModel', 'modelKey');
        req.result.createObjectStore('chunks');
        req.transaction!.objectStore('models').put({ key: 'm@r', id: 'm', revision: 'r', baseUrl: 'x/', manifest: null, lastUsed: 1, created: 1 });
      };
      req.onsuccess = () => {
        req.result.close();
        resolve();
      };
      req.onerror = () => reject(req.error);
    });
    const db = await openCacheDb(name);
    expect(db.version).toBe(2);
    expect(db.objectStoreNames.contains('skills') && db.objectStoreNames.contains('documents')).toBe(true);
    expect(await db.get('models', 'm@r')).toMatchObject({ id: 'm', revision: 'r' });
    db.close();
  });
});
