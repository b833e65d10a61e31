/**
 * fetch → validate → chunk: streams one file into a ChunkSink (IndexedDB or memory), resuming with an
 * HTTP Range request from the first byte the sink does not hold, and validating before anything is
 * kept: status, an HTML page where a model file belongs, the size against the manifest, the file's
 * header, and finally its SHA-256. Content that fails validation is discarded; a transfer that breaks
 * off (abort, dropped connection) keeps its whole chunks for the next attempt.
 */
import { AbortError, IntegrityError, InvalidModelFileError, ModelNotFoundError, NetworkError, QuotaExceededError, SlmError } from '../errors.ts';

export type FileKind = 'json' | 'onnx' | 'binary';

export interface FileSpec {
  path: string;
  kind: FileKind;
  /** From the manifest, when there is one. */
  size?: number;
  sha256?: string;
}

export interface ChunkSink {
  readonly chunkBytes: number;
  /** Bytes already held, a multiple of chunkBytes: the download resumes from here. */
  readonly heldBytes: number;
  /** Drops everything held. */
  reset(): Promise<void>;
  /** Keeps the next chunk (chunkBytes long, except the file's last). */
  write(chunk: Uint8Array): Promise<void>;
  /** All held bytes as one array. */
  assemble(): Promise<Uint8Array>;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** Bytes of this file received so far in this call (monotonic) and its size when known. */
  onProgress?: (received: number, total: number | undefined) => void;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Downloads `url` into `sink` and returns the verified content with its SHA-256. */
export async function download(url: string, spec: FileSpec, sink: ChunkSink, opts: DownloadOptions = {}): Promise<{ bytes: Uint8Array; sha256: string }> {
  try {
    // A file received whole in this call is already in one buffer; a resumed one is read back from the sink.
    const bytes = (await transfer(url, spec, sink, opts)) ?? (await sink.assemble());
    const expectedSize = spec.size;
    if (expectedSize !== undefined && bytes.byteLength !== expectedSize) {
      throw new InvalidModelFileError(`${url}: ${bytes.byteLength} bytes, the manifest says ${expectedSize}`, { details: { url, bytes: bytes.byteLength, expected: expectedSize } });
    }
    checkContent(url, bytes, spec.kind);
    const sha256 = await sha256Hex(bytes);
    if (spec.sha256 && sha256 !== spec.sha256) {
      throw new IntegrityError(`${url}: SHA-256 ${sha256} does not match the manifest's ${spec.sha256}`, { details: { url, sha256, expected: spec.sha256 } });
    }
    return { bytes, sha256 };
  } catch (err) {
    // Keep whole chunks only when the transfer itself broke off; rejected content is dropped.
    if (!(err instanceof AbortError || err instanceof NetworkError)) await sink.reset().catch(() => {});
    throw err;
  }
}

/** Streams the file into `sink`; returns its bytes when all of them came in this call with a known size. */
async function transfer(url: string, spec: FileSpec, sink: ChunkSink, opts: DownloadOptions): Promise<Uint8Array | null> {
  let offset = sink.heldBytes;
  if (spec.size !== undefined && offset >= spec.size && offset > 0) {
    await sink.reset();
    offset = 0;
  }
  const response = await request(url, offset, opts.signal);
  if (response.status === 404) throw new ModelNotFoundError(`${url} does not exist (HTTP 404)`, { details: { url, status: 404 } });
  if (response.status === 416 && offset > 0) {
    await sink.reset();
    return transfer(url, spec, sink, opts);
  }
  if (!response.ok) throw new InvalidModelFileError(`${url} answered HTTP ${response.status}`, { details: { url, status: response.status } });
  const contentType = response.headers.get('content-type');
  // Static servers and SPA fallbacks answer unknown paths with the app's index.html and status 200.
  if (contentType?.toLowerCase().includes('text/html')) {
    throw new InvalidModelFileError(`${url} returned an HTML page instead of a ${spec.kind} model file`, { details: { url, contentType } });
  }

  let start = 0;
  let total: number | undefined;
  if (response.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset) {
      // A range we did not ask for: start over with a plain request.
      await response.body?.cancel();
      await sink.reset();
      return transfer(url, spec, sink, opts);
    }
    start = offset;
    if (range[3] !== '*') total = Number(range[3]);
  } else {
    if (offset > 0) await sink.reset(); // the server ignored Range: the full body follows
    const length = response.headers.get('content-length');
    if (length !== null && !response.headers.get('content-encoding')) total = Number(length);
  }
  if (spec.size !== undefined && total !== undefined && total !== spec.size) {
    await response.body?.cancel();
    throw new InvalidModelFileError(`${url}: the server says ${total} bytes, the manifest says ${spec.size}`, { details: { url, bytes: total, expected: spec.size } });
  }
  total = spec.size ?? total;
  return stream(url, response, start, total, spec.kind, sink, opts);
}

async function request(url: string, offset: number, signal: AbortSignal | undefined): Promise<Response> {
  try {
    return await fetch(url, { signal, cache: 'no-store', ...(offset > 0 && { headers: { Range: `bytes=${offset}-` } }) });
  } catch (cause) {
    if (signal?.aborted) throw new AbortError(`fetching ${url} was aborted`, { cause });
    throw new NetworkError(`could not fetch ${url}: ${String(cause)}`, { cause, details: { url } });
  }
}

/**
 * Copies the body into the sink chunk by chunk. With the whole file coming and its size known, the
 * chunks are staged in the file's final buffer, which is returned: reading the file back from the
 * sink would hold a second copy of it while ORT takes the first.
 */
async function stream(url: string, response: Response, start: number, total: number | undefined, kind: FileKind, sink: ChunkSink, opts: DownloadOptions): Promise<Uint8Array | null> {
  const reader = response.body!.getReader();
  const whole = start === 0 && total !== undefined ? new Uint8Array(total) : null;
  const staging = whole ? null : new Uint8Array(sink.chunkBytes);
  let chunkStart = 0; // where the chunk being filled starts in `whole`
  let filled = 0;
  let received = 0;
  let headerChecked = start > 0;
  const flush = async (): Promise<void> => {
    // The sink may keep what it is given (MemorySink): a view of `whole`, or a copy of the reused staging buffer.
    const chunk = whole ? whole.subarray(chunkStart, chunkStart + filled) : staging!.slice(0, filled);
    if (!headerChecked) {
      checkHeader(url, chunk, kind);
      headerChecked = true;
    }
    try {
      await sink.write(chunk);
    } catch (err) {
      if (err instanceof DOMException && err.name === 'QuotaExceededError') {
        throw new QuotaExceededError(`storage is full while caching ${url}`, { cause: err, details: { url } });
      }
      throw err;
    }
    chunkStart += filled;
    filled = 0;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total !== undefined && start + received + value.byteLength > total) {
        throw new InvalidModelFileError(`${url}: more than the expected ${total} bytes`, { details: { url, expected: total } });
      }
      let at = 0;
      while (at < value.byteLength) {
        const n = Math.min(value.byteLength - at, sink.chunkBytes - filled);
        (whole ?? staging!).set(value.subarray(at, at + n), whole ? chunkStart + filled : filled);
        filled += n;
        at += n;
        if (filled === sink.chunkBytes) await flush();
      }
      received += value.byteLength;
      opts.onProgress?.(start + received, total);
    }
  } catch (cause) {
    if (cause instanceof SlmError) throw cause;
    if (opts.signal?.aborted) throw new AbortError(`fetching ${url} was aborted`, { cause });
    throw new NetworkError(`the download of ${url} broke off after ${start + received} bytes`, { cause, details: { url, received: start + received } });
  }
  if (total !== undefined && start + received < total) {
    throw new NetworkError(`the download of ${url} ended after ${start + received} of ${total} bytes`, { details: { url, received: start + received, total } });
  }
  if (filled > 0 || (start + received === 0)) await flush();
  return whole;
}

function checkHeader(url: string, head: Uint8Array, kind: FileKind): void {
  // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
  if (kind === 'onnx' && head[0] !== 0x08) {
    throw new InvalidModelFileError(`${url} is not an ONNX model (first byte 0x${(head[0] ?? 0).toString(16).padStart(2, '0')}, expected 0x08)`, { details: { url } });
  }
}

function checkContent(url: string, bytes: Uint8Array, kind: FileKind): void {
  checkHeader(url, bytes, kind);
  if (kind === 'json') {
    try {
      JSON.parse(new TextDecoder().decode(bytes));
    } catch (cause) {
      throw new InvalidModelFileError(`${url} is not valid JSON`, { cause, details: { url } });
    }
  }
}

/** A sink that keeps chunks in memory: for running without a cache. */
export class MemorySink implements ChunkSink {
  private chunks: Uint8Array[] = [];
  readonly heldBytes = 0;
  constructor(readonly chunkBytes: number) {}
  async reset(): Promise<void> {
    this.chunks = [];
  }
  async write(chunk: Uint8Array): Promise<void> {
    this.chunks.push(chunk);
  }
  async assemble(): Promise<Uint8Array> {
    return concatChunks(this.chunks);
  }
}

export function concatChunks(chunks: ArrayLike<Uint8Array>): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let size = 0;
  for (let i = 0; i < chunks.length; i++) size += chunks[i]!.byteLength;
  const out = new Uint8Array(size);
  let offset = 0;
  for (let i = 0; i < chunks.length; i++) {
    out.set(chunks[i]!, offset);
    offset += chunks[i]!.byteLength;
  }
  return out;
}
