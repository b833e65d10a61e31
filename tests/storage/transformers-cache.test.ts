/** transformers.js, configured by the engine, stores what it fetches in our IndexedDB cache and reads it back from there. */
import 'fake-indexeddb/auto';
import { AutoTokenizer } from '@huggingface/transformers';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureTransformers } from '../../src/engine/transformers-env.ts';
import { defaultEnv } from '../../src/env.ts';
import { TRANSFORMERS_REF, TransformersCache } from '../../src/storage/transformers-cache.ts';
import { openStores } from '../../src/storage/stores.ts';
import type { WeightCache } from '../../src/storage/weight-cache.ts';
import { startFileServer, type FileServer } from '../support/file-server.ts';
import { STORIES_DIR } from '../support/sources.ts';

describe('transformers.js through env.customCache', () => {
  let server: FileServer;
  let cache: Promise<WeightCache>;
  const repo = '/local/stories260k/resolve/main';

  beforeAll(async () => {
    const files: Record<string, Uint8Array> = {};
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'config.json']) files[`${repo}/${f}`] = new Uint8Array(readFileSync(join(STORIES_DIR, f)));
    server = await startFileServer(files);
    cache = openStores({ dbName: 'transformers-test', chunkBytes: 4096 }).then((s) => s.weights);
    configureTransformers({ ...defaultEnv('http://127.0.0.1:9/'), hubHost: server.url, modelBaseUrl: 'http://127.0.0.1:9/nonexistent/' }, () => cache);
  });
  afterAll(() => server.close());

  it('puts fetched files in IndexedDB as chunked, hashed entries that match() serves back', async () => {
    const tokenizer = await AutoTokenizer.from_pretrained('local/stories260k');
    expect(tokenizer.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    const fetched = server.requests.filter((r) => r.status === 200).map((r) => r.path);
    expect(fetched).toContain(`${repo}/tokenizer.json`);

    const url = `${server.url}${repo}/tokenizer.json`;
    const stored = await (await cache).match(TRANSFORMERS_REF, url);
    expect(Buffer.from(stored!).equals(readFileSync(join(STORIES_DIR, 'tokenizer.json')))).toBe(true);
    const configUrl = `${server.url}${repo}/tokenizer_config.json`;
    expect(Buffer.from((await (await cache).match(TRANSFORMERS_REF, configUrl))!).equals(readFileSync(join(STORIES_DIR, 'tokenizer_config.json')))).toBe(true);
    const listed = await (await cache).list();
    expect(listed).toEqual([expect.objectContaining({ id: 'transformers.js', partialBytes: 0 })]);
    expect(listed[0]!.files).toBeGreaterThanOrEqual(2);

    server.requests.length = 0;
    const response = await new TransformersCache(() => cache).match(url);
    expect(response?.status).toBe(200);
    expect(JSON.parse(await response!.text()).model.type).toBe('BPE');
    expect(server.requests).toEqual([]);
  });
});
