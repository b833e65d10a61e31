/**
 * transformers.js reads and writes files through `env.customCache` (match/put, Cache-API-like). This
 * adapter keeps them in the same IndexedDB weight cache, so nothing lands in CacheStorage and files
 * transformers.js fetches by itself are chunked and hashed like ours. Model files the engine fetched
 * through its own cache are handed over in memory (serving), never stored twice.
 */
import type { WeightCache, ModelRef } from './weight-cache.ts';

/** Files transformers.js fetched are filed under one pseudo-model, keyed by their full URL. */
export const TRANSFORMERS_REF: ModelRef = { id: 'transformers.js', revision: 'by-url', baseUrl: '', manifest: null };

export class TransformersCache {
  /** Files the engine already fetched and verified, by URL, while a transformers.js load runs. */
  private readonly served = new Map<string, Uint8Array>();

  constructor(private readonly cache: () => Promise<WeightCache>) {}

  /** Runs `load` with `files` (by URL) answered from memory, so transformers.js reads them instead of fetching. */
  async serving<T>(files: Map<string, Uint8Array>, load: () => Promise<T>): Promise<T> {
    for (const [url, bytes] of files) this.served.set(url, bytes);
    try {
      return await load();
    } finally {
      for (const url of files.keys()) this.served.delete(url);
    }
  }

  async match(request: string | Request): Promise<Response | undefined> {
    const url = typeof request === 'string' ? request : request.url;
    const bytes = this.served.get(url) ?? (await (await this.cache()).match(TRANSFORMERS_REF, url));
    return bytes ? new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-length': String(bytes.byteLength) } }) : undefined;
  }

  async put(request: string | Request, response: Response): Promise<void> {
    const url = typeof request === 'string' ? request : request.url;
    if (!response.ok) return;
    await (await this.cache()).put(TRANSFORMERS_REF, url, new Uint8Array(await response.clone().arrayBuffer()));
  }
}
