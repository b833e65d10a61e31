/**
 * The weight cache's policy: model files keyed by model + revision + path, visible only once complete
 * and verified; manifests remembered so an offline reload knows what to expect; one tab downloads a
 * file at a time (locks.ts) while others follow its progress. Storage itself is a FileStore
 * (file-store.ts: IndexedDB, or memory when IndexedDB is unavailable or caching is off); space checks
 * are quota.ts's, eviction eviction.ts's.
 */
import { NetworkError } from '../errors.ts';
import type { Dtype, ServedManifest } from '../model-format.ts';
import type { ByteSource, StorageUsage } from '../types.ts';
import { fileKey, modelKey, type ModelRecord } from './database.ts';
import { download, sha256Hex, type DownloadOptions, type FileSpec } from './download.ts';
import { otherRevisions, overBudget } from './eviction.ts';
import { MemoryFileStore, type FileStore } from './file-store.ts';
import { withLock, withProgressLock } from './locks.ts';
import { checkSpace } from './quota.ts';

export interface CacheConfig {
  /** IndexedDB database name. */
  dbName: string;
  /** Size of stored chunks; a file is never held as one huge value. */
  chunkBytes: number;
  /** Optional limit on cached bytes; least recently used models are evicted beyond it. */
  budgetBytes?: number;
}

export const DEFAULT_CACHE: CacheConfig = { dbName: 'browser-slm', chunkBytes: 4 * 1024 * 1024 };

export interface FileReadOptions extends Omit<DownloadOptions, 'onProgress'> {
  onProgress?: (loaded: number, total: number | undefined, source: ByteSource) => void;
}

export interface CachedModel {
  key: string;
  id: string;
  revision: string;
  url: string;
  /** Bytes of complete files. */
  bytes: number;
  /** Bytes of chunks of files still being downloaded (resumable). */
  partialBytes: number;
  files: number;
  /** Weights whose file is complete in the cache (from the cached manifest): these load without the network. */
  dtypes: Dtype[];
  lastUsed: number;
}

export interface ModelRef {
  id: string;
  revision: string;
  baseUrl: string;
  manifest: ServedManifest | null;
}

export class WeightCache {
  constructor(
    readonly config: CacheConfig,
    private readonly store: FileStore,
    /** Why the cache is memory-only, when it is. */
    readonly unavailableReason: string | null,
  ) {}

  /** A cache that stores nothing (cache disabled by the caller, or not enough space). */
  static memory(config: CacheConfig, reason: string): WeightCache {
    return new WeightCache(config, new MemoryFileStore(), reason);
  }

  get persistent(): boolean {
    return this.store.persistent;
  }

  static modelKey(ref: Pick<ModelRef, 'baseUrl' | 'revision'>): string {
    return modelKey(ref);
  }

  /**
   * The manifest for the model at `baseUrl`: the cached one when a revision is cached (no request),
   * else `fetchManifest()`'s, recorded at once so other tabs waiting on the same lock reuse it.
   * `fetchManifest` returns null for a model without one and throws NetworkError when offline, in
   * which case the cached manifest (if any) stands in.
   */
  async manifest(baseUrl: string, fetchManifest: () => Promise<ServedManifest | null>, revalidate: boolean, signal?: AbortSignal): Promise<ServedManifest | null> {
    const lookup = async (): Promise<ServedManifest | null> => {
      const cached = await this.latest(baseUrl);
      if (cached?.manifest && !revalidate) return cached.manifest;
      let manifest: ServedManifest | null;
      try {
        manifest = await fetchManifest();
      } catch (err) {
        if (err instanceof NetworkError && cached) return cached.manifest;
        throw err;
      }
      if (manifest?.revision) await this.saveModel({ id: baseUrl, baseUrl, revision: manifest.revision, manifest });
      return manifest;
    };
    // Only a shared store needs one tab at a time.
    return this.persistent ? withLock(`manifest:${baseUrl}`, signal, lookup) : lookup();
  }

  /** The most recently used cached revision of the model at `baseUrl`, with its manifest. */
  async latest(baseUrl: string): Promise<ModelRecord | undefined> {
    const all = (await this.store.models()).filter((m) => m.baseUrl === baseUrl);
    return all.sort((a, b) => b.lastUsed - a.lastUsed)[0];
  }

  /** Bytes still to download for these files of the model (those not complete in the cache). */
  async missingBytes(ref: ModelRef, specs: FileSpec[]): Promise<number> {
    let missing = 0;
    for (const spec of specs) {
      const rec = await this.store.file(fileKey(ref, spec.path));
      if (!rec?.complete) missing += (spec.size ?? 0) - (rec?.storedBytes ?? 0);
    }
    return missing;
  }

  /** The file's verified bytes, from the cache when complete, else downloaded (resuming) into it. */
  async get(ref: ModelRef, spec: FileSpec, opts: FileReadOptions = {}): Promise<Uint8Array> {
    const url = ref.baseUrl + spec.path;
    const key = fileKey(ref, spec.path);
    const fetchInto = async (broadcast: (loaded: number, total: number | undefined) => void): Promise<Uint8Array> => {
      await this.saveModel(ref);
      const sink = await this.store.openSink(newFileRecord(ref, spec, url, this.config.chunkBytes));
      const { bytes, sha256 } = await download(url, spec, sink, {
        ...(opts.signal && { signal: opts.signal }),
        onProgress: (loaded, total) => {
          opts.onProgress?.(loaded, total, 'network');
          broadcast(loaded, total);
        },
      });
      await sink.commit(sha256);
      return bytes;
    };
    if (!this.persistent) return fetchInto(() => {});
    const cached = await this.readComplete(key, opts);
    if (cached) return cached;
    return withProgressLock(key, opts.signal, (loaded, total) => opts.onProgress?.(loaded, total, 'other-tab'), async (broadcast) => {
      // Another tab may have finished it while we waited for the lock.
      return (await this.readComplete(key, opts)) ?? fetchInto(broadcast);
    });
  }

  /** The file's bytes if it is complete in the cache; nothing is downloaded. */
  match(ref: ModelRef, path: string): Promise<Uint8Array | null> {
    return this.readComplete(fileKey(ref, path), {});
  }

  /** Stores bytes obtained elsewhere as a complete, hashed file. */
  async put(ref: ModelRef, path: string, bytes: Uint8Array): Promise<void> {
    await this.saveModel(ref);
    const sink = await this.store.openSink(newFileRecord(ref, { path, kind: 'binary' }, ref.baseUrl + path, this.config.chunkBytes));
    await sink.reset();
    for (let at = 0; at < bytes.byteLength || at === 0; at += this.config.chunkBytes) {
      await sink.write(bytes.subarray(at, at + this.config.chunkBytes));
      if (bytes.byteLength === 0) break;
    }
    await sink.commit(await sha256Hex(bytes));
  }

  /** Marks the model as just used (for LRU eviction). */
  async touch(ref: ModelRef): Promise<void> {
    const rec = await this.store.model(modelKey(ref));
    if (rec) await this.store.putModel({ ...rec, lastUsed: Date.now() });
  }

  async list(): Promise<CachedModel[]> {
    const [models, files] = await Promise.all([this.store.models(), this.store.files()]);
    return models
      .map((m) => {
        const own = files.filter((f) => f.modelKey === m.key);
        const complete = new Set(own.filter((f) => f.complete).map((f) => f.path));
        const dtypes = Object.entries(m.manifest?.dtypes ?? {}).filter(([, d]) => d && complete.has(d.file));
        return {
          key: m.key,
          id: m.id,
          revision: m.revision,
          url: m.baseUrl,
          bytes: own.filter((f) => f.complete).reduce((n, f) => n + f.storedBytes, 0),
          partialBytes: own.filter((f) => !f.complete).reduce((n, f) => n + f.storedBytes, 0),
          files: complete.size,
          dtypes: dtypes.map(([dtype]) => dtype as Dtype),
          lastUsed: m.lastUsed,
        };
      })
      .sort((a, b) => b.lastUsed - a.lastUsed);
  }

  /** Deletes a cached model revision: its records and every chunk. */
  delete(key: string): Promise<void> {
    return this.store.deleteModel(key);
  }

  /** Deletes every other cached revision of the model at `ref.baseUrl` (superseded by `ref`). */
  async deleteOtherRevisions(ref: ModelRef): Promise<string[]> {
    const stale = otherRevisions(await this.list(), ref.baseUrl, modelKey(ref));
    for (const key of stale) await this.delete(key);
    return stale;
  }

  /** With a budget set, evicts least recently used models (never `keep`) until the cache fits. */
  async enforceBudget(keep: string): Promise<string[]> {
    if (this.config.budgetBytes === undefined) return [];
    const evicted = overBudget(await this.list(), this.config.budgetBytes, keep);
    for (const key of evicted) await this.delete(key);
    return evicted;
  }

  /** Fails early, before any download, when the files still to download cannot fit (quota.ts). */
  async checkSpace(ref: ModelRef, specs: FileSpec[]): Promise<void> {
    await checkSpace(this.store, await this.missingBytes(ref, specs), this.config);
  }

  /** What the cache holds against what the browser allows this origin. */
  async usage(): Promise<StorageUsage> {
    const models = await this.list();
    const estimate = await globalThis.navigator?.storage?.estimate?.();
    return {
      persistent: this.persistent,
      ...(this.unavailableReason && { reason: this.unavailableReason }),
      cachedBytes: models.reduce((n, m) => n + m.bytes + m.partialBytes, 0),
      ...(estimate?.usage !== undefined && { usage: estimate.usage }),
      ...(estimate?.quota !== undefined && { quota: estimate.quota }),
      ...(this.config.budgetBytes !== undefined && { budgetBytes: this.config.budgetBytes }),
    };
  }

  clear(): Promise<void> {
    return this.store.clear();
  }

  private async readComplete(key: string, opts: FileReadOptions): Promise<Uint8Array | null> {
    const bytes = await this.store.readComplete(key);
    if (bytes) opts.onProgress?.(bytes.byteLength, bytes.byteLength, 'cache');
    return bytes;
  }

  private async saveModel(ref: ModelRef): Promise<void> {
    const key = modelKey(ref);
    const now = Date.now();
    const existing = await this.store.model(key);
    await this.store.putModel({ key, id: ref.id, revision: ref.revision, baseUrl: ref.baseUrl, manifest: ref.manifest, lastUsed: now, created: existing?.created ?? now });
  }
}

function newFileRecord(ref: ModelRef, spec: FileSpec, url: string, chunkBytes: number): Parameters<FileStore['openSink']>[0] {
  return {
    key: fileKey(ref, spec.path),
    modelKey: modelKey(ref),
    path: spec.path,
    url,
    size: spec.size ?? null,
    sha256: spec.sha256 ?? null,
    chunkBytes,
    storedChunks: 0,
    storedBytes: 0,
    complete: false,
    lastUsed: Date.now(),
  };
}
