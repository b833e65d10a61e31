/**
 * Where model files are kept: records per model revision and per file, and each file's chunks. The
 * IndexedDB store keeps them across sessions; the memory store keeps nothing beyond the download in
 * progress (the bytes then live only in the model's session), for when IndexedDB is unavailable, the
 * caller turned caching off, or storage is full.
 */
import { MemorySink, type ChunkSink } from './download.ts';
import { chunkRange, type CacheDb, type FileRecord, type ModelRecord } from './database.ts';

/** A chunk sink whose file becomes visible on commit. */
export interface FileSink extends ChunkSink {
  /** Every chunk is stored and the hash verified (or recorded): the file becomes readable. */
  commit(sha256: string): Promise<void>;
}

export interface FileStore {
  /** Whether files outlive this load. */
  readonly persistent: boolean;
  models(): Promise<ModelRecord[]>;
  model(key: string): Promise<ModelRecord | undefined>;
  putModel(record: ModelRecord): Promise<void>;
  files(): Promise<FileRecord[]>;
  file(key: string): Promise<FileRecord | undefined>;
  /** A complete file's bytes (null when absent, incomplete or its chunks do not add up); marks it used. */
  readComplete(key: string): Promise<Uint8Array | null>;
  /** A sink for the file `fresh` describes, resuming what was written for the same URL, expectation and chunking. */
  openSink(fresh: FileRecord): Promise<FileSink>;
  /** Deletes a model revision's records and every chunk of its files. */
  deleteModel(key: string): Promise<void>;
  clear(): Promise<void>;
  /** Commits `bytes` of incompressible data in one transaction and deletes them again: throws if they do not fit. */
  probeWrite(bytes: number, chunkBytes: number): Promise<void>;
}

/** Key of the throw-away chunks written to test for space. */
const PROBE_KEY = '\u0000space-probe';

export class IdbFileStore implements FileStore {
  readonly persistent = true;

  constructor(private readonly db: CacheDb) {}

  models(): Promise<ModelRecord[]> {
    return this.db.getAll('models');
  }

  model(key: string): Promise<ModelRecord | undefined> {
    return this.db.get('models', key);
  }

  async putModel(record: ModelRecord): Promise<void> {
    await this.db.put('models', record);
  }

  files(): Promise<FileRecord[]> {
    return this.db.getAll('files');
  }

  file(key: string): Promise<FileRecord | undefined> {
    return this.db.get('files', key);
  }

  async readComplete(key: string): Promise<Uint8Array | null> {
    const rec = await this.db.get('files', key);
    if (!rec?.complete) return null;
    const bytes = await readChunks(this.db, key, rec.storedBytes);
    if (!bytes) return null;
    await this.db.put('files', { ...rec, lastUsed: Date.now() });
    return bytes;
  }

  async openSink(fresh: FileRecord): Promise<FileSink> {
    const old = await this.db.get('files', fresh.key);
    const resumable = old !== undefined && old.url === fresh.url && old.sha256 === fresh.sha256 && old.chunkBytes === fresh.chunkBytes && old.size === fresh.size;
    if (old && !resumable) await new IdbSink(this.db, old).reset();
    return new IdbSink(this.db, resumable ? old : fresh);
  }

  async deleteModel(key: string): Promise<void> {
    const tx = this.db.transaction(['models', 'files', 'chunks'], 'readwrite');
    const files = await tx.objectStore('files').index('byModel').getAllKeys(key);
    for (const file of files) {
      await tx.objectStore('chunks').delete(chunkRange(file));
      await tx.objectStore('files').delete(file);
    }
    await tx.objectStore('models').delete(key);
    await tx.done;
  }

  async clear(): Promise<void> {
    const tx = this.db.transaction(['models', 'files', 'chunks'], 'readwrite');
    await Promise.all([tx.objectStore('models').clear(), tx.objectStore('files').clear(), tx.objectStore('chunks').clear(), tx.done]);
  }

  async probeWrite(bytes: number, chunkBytes: number): Promise<void> {
    const block = new Uint8Array(Math.min(chunkBytes, bytes));
    for (let at = 0; at < block.byteLength; at += 65536) crypto.getRandomValues(block.subarray(at, at + 65536));
    try {
      const tx = this.db.transaction('chunks', 'readwrite');
      for (let i = 0; i * block.byteLength < bytes; i++) void tx.store.put(block.buffer.slice(0), [PROBE_KEY, i]);
      await tx.done;
    } finally {
      await this.db.delete('chunks', chunkRange(PROBE_KEY)).catch(() => {});
    }
  }
}

export class MemoryFileStore implements FileStore {
  readonly persistent = false;

  async models(): Promise<ModelRecord[]> {
    return [];
  }
  async model(): Promise<ModelRecord | undefined> {
    return undefined;
  }
  async putModel(): Promise<void> {}
  async files(): Promise<FileRecord[]> {
    return [];
  }
  async file(): Promise<FileRecord | undefined> {
    return undefined;
  }
  async readComplete(): Promise<Uint8Array | null> {
    return null;
  }
  async openSink(fresh: FileRecord): Promise<FileSink> {
    return Object.assign(new MemorySink(fresh.chunkBytes), { commit: async () => {} });
  }
  async deleteModel(): Promise<void> {}
  async clear(): Promise<void> {}
  async probeWrite(): Promise<void> {}
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

/** Chunks go to IndexedDB as they arrive, each with the file record that counts it, in one transaction. */
class IdbSink implements FileSink {
  constructor(
    private readonly db: CacheDb,
    private record: FileRecord,
  ) {}

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
    // IndexedDB stores a whole ArrayBuffer: a view of a larger one is copied out first.
    const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    const value = (whole ? chunk.buffer : chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength)) as ArrayBuffer;
    await tx.objectStore('chunks').put(value, [this.record.key, this.record.storedChunks]);
    await tx.objectStore('files').put(next);
    await tx.done;
    this.record = next;
  }

  async assemble(): Promise<Uint8Array> {
    const bytes = await readChunks(this.db, this.record.key, this.record.storedBytes);
    if (!bytes) throw new Error(`the stored chunks of ${this.record.key} do not add up to ${this.record.storedBytes} bytes`);
    return bytes;
  }

  async commit(sha256: string): Promise<void> {
    this.record = { ...this.record, sha256, size: this.record.storedBytes, complete: true };
    await this.db.put('files', this.record);
  }
}
