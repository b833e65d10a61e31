/**
 * Reads the safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * mapping each tensor name to { dtype, shape, data_offsets } (offsets relative to the data after the
 * header) plus an optional "__metadata__" of strings, then the raw little-endian data. Float tensors
 * (F32, F16, BF16) are widened to Float32Array; other dtypes are listed but not decoded.
 */

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const ELEMENT_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Byte range in the file (absolute, not relative to the data section). */
  begin: number;
  end: number;
}

export interface Safetensors {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** The tensor as float32; `shape` is checked when given. */
  floats(name: string, shape?: number[]): Float32Array;
}

export function parseSafetensors(bytes: Uint8Array, where = 'safetensors file'): Safetensors {
  const fail = (why: string): never => {
    throw new SafetensorsError(`${where}: ${why}`);
  };
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes is too short for a safetensors header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const dataStart = 8 + headerLength;
  if (dataStart > bytes.byteLength) fail(`the header claims ${headerLength} bytes but the file has ${bytes.byteLength}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (cause) {
    fail(`the header is not JSON (${String(cause)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      Object.assign(metadata, entry);
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in ELEMENT_BYTES)) fail(`tensor ${name} has an unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      fail(`tensor ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [b, e] = offsets as [number, number];
    const dims = shape as number[];
    const expected = dims.reduce((n, d) => n * d, 1) * ELEMENT_BYTES[dtype as string]!;
    if (e - b !== expected) fail(`tensor ${name} (${dtype} ${JSON.stringify(dims)}) needs ${expected} bytes, its data_offsets span ${e - b}`);
    if (dataStart + e > bytes.byteLength) fail(`tensor ${name} ends at byte ${dataStart + e}, past the end of the file (${bytes.byteLength}); is it truncated?`);
    tensors.set(name, { dtype: dtype as string, shape: dims, begin: dataStart + b, end: dataStart + e });
  }

  const floats = (name: string, shape?: number[]): Float32Array => {
    const t = tensors.get(name) ?? fail(`has no tensor ${name}`);
    if (shape && JSON.stringify(shape) !== JSON.stringify(t.shape)) fail(`tensor ${name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
    // A copy: aligned for the typed array whatever the header length, and independent of the file's buffer.
    const raw = bytes.slice(t.begin, t.end);
    if (t.dtype === 'F32') return new Float32Array(raw.buffer);
    if (t.dtype === 'F16') return Float32Array.from(new Uint16Array(raw.buffer), halfToFloat);
    if (t.dtype === 'BF16') {
      // bfloat16 is the top half of a float32.
      const out = new Uint32Array(raw.byteLength / 2);
      new Uint16Array(raw.buffer).forEach((h, i) => (out[i] = h << 16));
      return new Float32Array(out.buffer);
    }
    return fail(`tensor ${name} is ${t.dtype}; only F32, F16 and BF16 are read as floats`);
  };
  return { metadata, tensors, floats };
}

/** IEEE 754 binary16 → number, subnormals, infinities and NaN included. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
