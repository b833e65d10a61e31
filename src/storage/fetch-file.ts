/**
 * Network access for model files: streams the body with progress and validates the response before
 * anyone uses it, so a 404 page, an HTML fallback or a truncated body becomes a typed error naming
 * the URL instead of a confusing failure deep inside ONNX Runtime.
 */
import { AbortError, InvalidModelFileError, ModelNotFoundError, NetworkError, throwIfAborted } from '../errors.ts';

export type FileKind = 'json' | 'onnx' | 'binary';

export interface FetchFileOptions {
  kind: FileKind;
  signal?: AbortSignal;
  /** Called with bytes received so far and the size when known. */
  onProgress?: (loaded: number, total: number | undefined) => void;
  /** Expected size, e.g. from the model's manifest. */
  expectedBytes?: number;
}

export async function fetchFile(url: string, opts: FetchFileOptions): Promise<Uint8Array> {
  throwIfAborted(opts.signal, `fetching ${url}`);
  let response: Response;
  try {
    response = await fetch(url, { signal: opts.signal, credentials: 'same-origin' });
  } catch (cause) {
    if (opts.signal?.aborted) throw new AbortError(`fetching ${url} was aborted`, { cause });
    throw new NetworkError(`could not fetch ${url}: ${String(cause)}`, { cause, details: { url } });
  }
  if (response.status === 404) throw new ModelNotFoundError(`${url} does not exist (HTTP 404)`, { details: { url, status: 404 } });
  if (!response.ok) throw new NetworkError(`${url} answered HTTP ${response.status}`, { details: { url, status: response.status } });
  checkContentType(url, response.headers.get('content-type'), opts.kind);

  const header = response.headers.get('content-length');
  const total = opts.expectedBytes ?? (header !== null && !response.headers.get('content-encoding') ? Number(header) : undefined);
  const bytes = await readBody(url, response, total, opts);
  if (opts.expectedBytes !== undefined && bytes.byteLength !== opts.expectedBytes) {
    throw new InvalidModelFileError(`${url}: received ${bytes.byteLength} bytes, expected ${opts.expectedBytes}`, {
      details: { url, bytes: bytes.byteLength, expected: opts.expectedBytes },
    });
  }
  checkHeader(url, bytes, opts.kind);
  return bytes;
}

async function readBody(url: string, response: Response, total: number | undefined, opts: FetchFileOptions): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      opts.onProgress?.(loaded, total);
    }
  } catch (cause) {
    if (opts.signal?.aborted) throw new AbortError(`fetching ${url} was aborted`, { cause });
    throw new NetworkError(`the download of ${url} broke off after ${loaded} bytes`, { cause, details: { url, loaded } });
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(loaded);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function checkContentType(url: string, contentType: string | null, kind: FileKind): void {
  // Static servers and SPA fallbacks answer unknown paths with the app's index.html and status 200.
  if (contentType?.toLowerCase().includes('text/html')) {
    throw new InvalidModelFileError(`${url} returned an HTML page instead of a ${kind} model file`, { details: { url, contentType } });
  }
}

function checkHeader(url: string, bytes: Uint8Array, kind: FileKind): void {
  if (kind === 'onnx') {
    // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
    if (bytes[0] !== 0x08) {
      throw new InvalidModelFileError(`${url} is not an ONNX model (first byte 0x${(bytes[0] ?? 0).toString(16)}, expected 0x08)`, { details: { url } });
    }
  } else if (kind === 'json') {
    try {
      JSON.parse(new TextDecoder().decode(bytes));
    } catch (cause) {
      throw new InvalidModelFileError(`${url} is not valid JSON`, { cause, details: { url } });
    }
  }
}
