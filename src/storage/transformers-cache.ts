/**
 * transformers.js reads and writes files through `env.customCache` (match/put, Cache-API-like). This
 * adapter keeps them in the same IndexedDB weight cache, so nothing lands in CacheStorage and files
 * transformers.js fetches (tokenizers, Hub encoder models) are chunked and hashed like ours.
 */
import type { WeightCache, ModelRef } from './weight-cache.ts';

/** Files transformers.js fetched are filed under one pseudo-model, keyed by their full URL. */
export const TRANSFORMERS_REF: ModelRef = { id: 'transformers.js', revision: 'by-url', baseUrl: '', manifest: null };

export class TransformersCache {
  constructor(private readonly cache: () => Promise<WeightCache>) {}

  async match(request: string | Request): Promise<Response | undefined> {
    const url = typeof request === 'string' ? request : request.url;
    const bytes = await (await this.cache()).match(TRANSFORMERS_REF, url);
    return bytes ? new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-length': String(bytes.byteLength) } }) : undefined;
  }

  async put(request: string | Request, response: Response): Promise<void> {
    const url = typeof request === 'string' ? request : request.url;
    if (!response.ok) return;
    await (await this.cache()).put(TRANSFORMERS_REF, url, new Uint8Array(await response.clone().arrayBuffer()));
  }
}
