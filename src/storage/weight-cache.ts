/**
 * The weight cache: model files in IndexedDB, keyed by model + revision + path, visible only once
 * complete and verified. One tab downloads a file at a time per origin (Web Locks); tabs waiting for it
 * see its progress over a BroadcastChannel and then read it from the cache. When IndexedDB cannot be
 * opened the cache works from memory and says why.
 */
import { AbortError, NetworkError, QuotaExceededError } from '../errors.ts';
import { chunkRange, openCacheDb, type CacheDb, type FileRecord, type ModelRecord } from './cache-db.ts';
import type { ServedManifest } from '../model-format.ts';
import type { ByteSource, StorageUsage } from '../types.ts';
import { download, MemorySink, sha256Hex, type ChunkSink, type DownloadOptions, type FileSpec } from './download.ts';

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
  lastUsed: number;
}

export interface ModelRef {
  id: string;
  revision: string;
  baseUrl: string;
  manifest: ServedManifest | null;
}

const PROGRESS_CHANNEL = 'browser-slm-download-progress';
/** Key of the throw-away chunks written to test for space. */
const PROBE_KEY = '\u0000space-probe';

export class WeightCache {
  private constructor(
    readonly config: CacheConfig,
    private readonly db: CacheDb | null,
    /** Why the cache is memory-only, when it is. */
    readonly unavailableReason: string | null,
  ) {}

  static async open(config: CacheConfig = DEFAULT_CACHE): Promise<WeightCache> {
    if (typeof indexedDB === 'undefined') return new WeightCache(config, null, 'IndexedDB is not available in this context');
    try {
      return new WeightCache(config, await openCacheDb(config.dbName), null);
    } catch (err) {
      return new WeightCache(config, null, `IndexedDB could not be opened: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** A cache that stores nothing (cache disabled by the caller, or not enough space). */
  static memory(config: CacheConfig, reason: string): WeightCache {
    return new WeightCache(config, null, reason);
  }

  get persistent(): boolean {
    return this.db !== null;
  }

  /** The open database (null when working from memory), shared with the skill and document stores. */
  get database(): CacheDb | null {
    return this.db;
  }

  static modelKey(ref: Pick<ModelRef, 'baseUrl' | 'revision'>): string {
    return `${ref.baseUrl}@${ref.revision}`;
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
      if (cached?.manifest && !revalidate) return cached.manifest as ServedManifest;
      let manifest: ServedManifest | null;
      try {
        manifest = await fetchManifest();
      } catch (err) {
        if (err instanceof NetworkError && cached) return cached.manifest as ServedManifest | null;
        throw err;
      }
      if (manifest?.revision && this.db) await this.saveModel({ id: baseUrl, baseUrl, revision: manifest.revision, manifest });
      return manifest;
    };
    if (!this.db) return lookup();
    return withLock(`manifest:${baseUrl}`, signal, lookup);
  }

  /** The most recently used cached revision of the model at `baseUrl`, with its manifest. */
  async latest(baseUrl: string): Promise<ModelRecord | undefined> {
    if (!this.db) return undefined;
    const all = (await this.db.getAll('models')).filter((m) => m.baseUrl === baseUrl);
    return all.sort((a, b) => b.lastUsed - a.lastUsed)[0];
  }

  /** Bytes still to download for these files of the model (those not complete in the cache). */
  async missingBytes(ref: ModelRef, specs: FileSpec[]): Promise<number> {
    let missing = 0;
    for (const spec of specs) {
      const rec = this.db ? await this.db.get('files', fileKey(ref, spec.path)) : undefined;
      if (!rec?.complete) missing += (spec.size ?? 0) - (rec?.storedBytes ?? 0);
    }
    return missing;
  }

  /** The file's verified bytes, from the cache when complete, else downloaded (resuming) into it. */
  async get(ref: ModelRef, spec: FileSpec, opts: FileReadOptions = {}): Promise<Uint8Array> {
    const url = ref.baseUrl + spec.path;
    if (!this.db) {
      const { bytes } = await download(url, spec, new MemorySink(this.config.chunkBytes), networkProgress(opts));
      return bytes;
    }
    const db = this.db;
    const key = fileKey(ref, spec.path);
    const cached = await this.readComplete(key, opts);
    if (cached) return cached;
    return withProgressLock(key, opts.signal, (loaded, total) => opts.onProgress?.(loaded, total, 'other-tab'), async (broadcast) => {
      // Another tab may have finished it while we waited for the lock.
      const ready = await this.readComplete(key, opts);
      if (ready) return ready;
      await this.saveModel(ref);
      const sink = await IdbSink.open(db, ref, spec, url, this.config.chunkBytes);
      const { bytes, sha256 } = await download(url, spec, sink, {
        ...(opts.signal && { signal: opts.signal }),
        onProgress: (loaded, total) => {
          opts.onProgress?.(loaded, total, 'network');
          broadcast(loaded, total);
        },
      });
      await sink.commit(sha256);
      return bytes;
    });
  }

  /** The file's bytes if it is complete in the cache; nothing is downloaded. */
  async match(ref: ModelRef, path: string): Promise<Uint8Array | null> {
    return this.db ? this.readComplete(fileKey(ref, path), {}) : null;
  }

  /** Stores bytes obtained elsewhere as a complete, hashed file. */
  async put(ref: ModelRef, path: string, bytes: Uint8Array): Promise<void> {
    if (!this.db) return;
    await this.saveModel(ref);
    const sink = await IdbSink.open(this.db, ref, { path, kind: 'binary' }, ref.baseUrl + path, this.config.chunkBytes);
    await sink.reset();
    for (let at = 0; at < bytes.byteLength || at === 0; at += this.config.chunkBytes) {
      await sink.write(bytes.subarray(at, at + this.config.chunkBytes));
      if (bytes.byteLength === 0) break;
    }
    await sink.commit(await sha256Hex(bytes));
  }

  /** Marks the model as just used (for LRU eviction). */
  async touch(ref: ModelRef): Promise<void> {
    if (!this.db) return;
    const rec = await this.db.get('models', WeightCache.modelKey(ref));
    if (rec) await this.db.put('models', { ...rec, lastUsed: Date.now() });
  }

  async list(): Promise<CachedModel[]> {
    if (!this.db) return [];
    const [models, files] = await Promise.all([this.db.getAll('models'), this.db.getAll('files')]);
    return models
      .map((m) => {
        const own = files.filter((f) => f.modelKey === m.key);
        return {
          key: m.key,
          id: m.id,
          revision: m.revision,
          url: m.baseUrl,
          bytes: own.filter((f) => f.complete).reduce((n, f) => n + f.storedBytes, 0),
          partialBytes: own.filter((f) => !f.complete).reduce((n, f) => n + f.storedBytes, 0),
          files: own.filter((f) => f.complete).length,
          lastUsed: m.lastUsed,
        };
      })
      .sort((a, b) => b.lastUsed - a.lastUsed);
  }

  /** Deletes a cached model revision: its records and every chunk. */
  async delete(modelKey: string): Promise<void> {
    if (!this.db) return;
    const tx = this.db.transaction(['models', 'files', 'chunks'], 'readwrite');
    const files = await tx.objectStore('files').index('byModel').getAllKeys(modelKey);
    for (const key of files) {
      await tx.objectStore('chunks').delete(chunkRange(key));
      await tx.objectStore('files').delete(key);
    }
    await tx.objectStore('models').delete(modelKey);
    await tx.done;
  }

  /** Deletes every other cached revision of the model at `ref.baseUrl` (superseded by `ref`). */
  async deleteOtherRevisions(ref: ModelRef): Promise<string[]> {
    if (!this.db) return [];
    const keep = WeightCache.modelKey(ref);
    const stale = (await this.db.getAll('models')).filter((m) => m.baseUrl === ref.baseUrl && m.key !== keep).map((m) => m.key);
    for (const key of stale) await this.delete(key);
    return stale;
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

  async clear(): Promise<void> {
    if (!this.db) return;
    const tx = this.db.transaction(['models', 'files', 'chunks'], 'readwrite');
    await Promise.all([tx.objectStore('models').clear(), tx.objectStore('files').clear(), tx.objectStore('chunks').clear(), tx.done]);
  }

  /** With a budget set, evicts least recently used models (never `keep`) until the cache fits. */
  async enforceBudget(keep: string): Promise<string[]> {
    const budget = this.config.budgetBytes;
    if (budget === undefined || !this.db) return [];
    const models = await this.list();
    let total = models.reduce((n, m) => n + m.bytes + m.partialBytes, 0);
    const evicted: string[] = [];
    for (const m of [...models].reverse()) {
      if (total <= budget) break;
      if (m.key === keep) continue;
      await this.delete(m.key);
      total -= m.bytes + m.partialBytes;
      evicted.push(m.key);
    }
    return evicted;
  }

  /**
   * Fails early, before any download, when the files still to download cannot fit: in the budget, in
   * the origin's reported quota, or in a real write. Browsers may report an obfuscated quota from
   * navigator.storage.estimate(), so the cache commits that many bytes of incompressible data in one
   * transaction and deletes them again: if that fits, the model will.
   */
  async checkSpace(ref: ModelRef, specs: FileSpec[]): Promise<void> {
    const needed = await this.missingBytes(ref, specs);
    if (needed <= 0 || !this.db) return;
    const budget = this.config.budgetBytes;
    if (budget !== undefined && needed > budget) {
      throw new QuotaExceededError(`the model needs ${needed} more bytes but the cache budget is ${budget}`, { details: { needed, budget } });
    }
    const estimate = await globalThis.navigator?.storage?.estimate?.();
    const free = estimate?.quota !== undefined ? estimate.quota - (estimate.usage ?? 0) : undefined;
    const refuse = (cause?: unknown): QuotaExceededError =>
      new QuotaExceededError(`the model needs ${needed} bytes of storage but only ${free ?? 'fewer'} are free for this site`, {
        ...(cause !== undefined && { cause }),
        details: { needed, ...(free !== undefined && { free }), ...(estimate?.quota !== undefined && { quota: estimate.quota }) },
      });
    if (free !== undefined && needed > free) throw refuse();
    try {
      await this.probeWrite(needed);
    } catch (err) {
      if (err instanceof DOMException && err.name === 'QuotaExceededError') throw refuse(err);
      throw err;
    }
  }

  private async probeWrite(bytes: number): Promise<void> {
    const db = this.db!;
    const block = new Uint8Array(Math.min(this.config.chunkBytes, bytes));
    for (let at = 0; at < block.byteLength; at += 65536) crypto.getRandomValues(block.subarray(at, at + 65536));
    const probe = chunkRange(PROBE_KEY);
    try {
      const tx = db.transaction('chunks', 'readwrite');
      for (let i = 0; i * block.byteLength < bytes; i++) void tx.store.put(block.buffer.slice(0), [PROBE_KEY, i]);
      await tx.done;
    } finally {
      await db.delete('chunks', probe).catch(() => {});
    }
  }

  private async readComplete(key: string, opts: FileReadOptions): Promise<Uint8Array | null> {
    const rec = await this.db!.get('files', key);
    if (!rec?.complete) return null;
    const bytes = await readChunks(this.db!, key, rec.storedBytes);
    if (!bytes) return null;
    opts.onProgress?.(bytes.byteLength, bytes.byteLength, 'cache');
    await this.db!.put('files', { ...rec, lastUsed: Date.now() });
    return bytes;
  }

  private async saveModel(ref: ModelRef): Promise<void> {
    const key = WeightCache.modelKey(ref);
    const now = Date.now();
    const existing = await this.db!.get('models', key);
    await this.db!.put('models', { key, id: ref.id, revision: ref.revision, baseUrl: ref.baseUrl, manifest: ref.manifest, lastUsed: now, created: existing?.created ?? now });
  }
}

/**
 * Copies a file's chunks, one at a time through a cursor, into one buffer of its size: the peak is the
 * file plus one chunk, not every chunk plus their concatenation. Null when the chunks do not add up.
 */
async function readChunks(db: CacheDb, key: string, size: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(size);
  let offset = 0;
  for (let cursor = await db.transaction('chunks').store.openCursor(chunkRange(key)); cursor; cursor = await cursor.continue()) {
    const chunk = new Uint8Array(cursor.value);
    if (offset + chunk.byteLength > size) return null;
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return offset === size ? out : null;
}

function fileKey(ref: Pick<ModelRef, 'baseUrl' | 'revision'>, path: string): string {
  return `${WeightCache.modelKey(ref)}/${path}`;
}

function networkProgress(opts: FileReadOptions): DownloadOptions {
  return {
    ...(opts.signal && { signal: opts.signal }),
    ...(opts.onProgress && { onProgress: (loaded: number, total: number | undefined) => opts.onProgress!(loaded, total, 'network') }),
  };
}

/** Chunks go to IndexedDB as they arrive, each with the file record that counts it, in one transaction. */
class IdbSink implements ChunkSink {
  private constructor(
    private readonly db: CacheDb,
    private record: FileRecord,
  ) {}

  static async open(db: CacheDb, ref: ModelRef, spec: FileSpec, url: string, chunkBytes: number): Promise<IdbSink> {
    const key = fileKey(ref, spec.path);
    const old = await db.get('files', key);
    const fresh: FileRecord = {
      key,
      modelKey: WeightCache.modelKey(ref),
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
    // Resume only what was written for the same URL, expectation and chunking.
    const resumable = old !== undefined && old.url === url && old.sha256 === fresh.sha256 && old.chunkBytes === chunkBytes && old.size === fresh.size;
    if (old && !resumable) await new IdbSink(db, old).reset();
    return new IdbSink(db, resumable ? old : fresh);
  }

  get chunkBytes(): number {
    return this.record.chunkBytes;
  }

  get heldBytes(): number {
    return this.record.storedBytes;
  }

  async reset(): Promise<void> {
    const tx = this.db.transaction(['files', 'chunks'], 'readwrite');
    await tx.objectStore('chunks').delete(chunkRange(this.record.key));
    await tx.objectStore('files').delete(this.record.key);
    await tx.done;
    this.record = { ...this.record, storedChunks: 0, storedBytes: 0, complete: false };
  }

  async write(chunk: Uint8Array): Promise<void> {
    const next = { ...this.record, storedChunks: this.record.storedChunks + 1, storedBytes: this.record.storedBytes + chunk.byteLength, lastUsed: Date.now() };
    const tx = this.db.transaction(['files', 'chunks'], 'readwrite');
    await tx.objectStore('chunks').put(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer, [this.record.key, this.record.storedChunks]);
    await tx.objectStore('files').put(next);
    await tx.done;
    this.record = next;
  }

  async assemble(): Promise<Uint8Array> {
    const bytes = await readChunks(this.db, this.record.key, this.record.storedBytes);
    if (!bytes) throw new Error(`the stored chunks of ${this.record.key} do not add up to ${this.record.storedBytes} bytes`);
    return bytes;
  }

  /** The file becomes visible: every chunk is stored and its hash verified (or recorded). */
  async commit(sha256: string): Promise<void> {
    this.record = { ...this.record, sha256, size: this.record.storedBytes, complete: true };
    await this.db.put('files', this.record);
  }
}

/** Runs `fn` holding this origin's Web Lock `name` (one tab at a time); without Web Locks it just runs. */
async function withLock<T>(name: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return fn();
  try {
    return await locks.request(`browser-slm:${name}`, signal ? { signal } : {}, fn);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw new AbortError(`waiting for another tab (${name}) was aborted`, { cause: err });
    throw err;
  }
}

/**
 * Downloads under the file's lock so one tab fetches while others wait; waiters receive the holder's
 * progress over a BroadcastChannel until they get the lock (and then find the file complete).
 */
async function withProgressLock<T>(
  key: string,
  signal: AbortSignal | undefined,
  onOtherTabProgress: (loaded: number, total: number | undefined) => void,
  fn: (broadcast: (loaded: number, total: number | undefined) => void) => Promise<T>,
): Promise<T> {
  const channel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(PROGRESS_CHANNEL) : null;
  const listen = (e: MessageEvent<{ key: string; loaded: number; total?: number }>): void => {
    if (e.data.key === key) onOtherTabProgress(e.data.loaded, e.data.total);
  };
  channel?.addEventListener('message', listen);
  try {
    return await withLock(`file:${key}`, signal, () => {
      channel?.removeEventListener('message', listen);
      return fn((loaded, total) => channel?.postMessage({ key, loaded, total }));
    });
  } finally {
    channel?.close();
  }
}
