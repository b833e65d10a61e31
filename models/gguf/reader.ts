/**
 * GGUF reader (versions 2 and 3): header, every metadata value type, tensor infos and alignment.
 * Nothing is copied: tensors are located by offset and read on demand (see dequantize.ts), so a
 * 250 MB file costs its own bytes once. Every read is bounds-checked, so a truncated or foreign file
 * fails with a GgufError that says where.
 *
 * Shape of the result (`readGguf(bytes)`):
 * - `metadata`: key → value. Scalars: 8–32-bit integers and floats as `number`, 64-bit integers as
 *   `bigint`, booleans as `boolean`, strings as `string`. Arrays: strings as `string[]`, booleans as
 *   `boolean[]`, numbers as the matching typed array (`Uint8Array` … `Float64Array`, `BigInt64Array` /
 *   `BigUint64Array` for 64-bit), arrays of arrays as `GgufValue[]`.
 * - `tensors`: name, `dims` in ggml order (fastest-varying first, so a [rows, cols] matrix is
 *   `[cols, rows]`), ggml `type` and its name, byte `offset` from `dataOffset`, and `byteLength`.
 */
export class GgufError extends Error {
  override name = 'GgufError';
}

export type GgufArray =
  | string[]
  | boolean[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array
  | GgufValue[];
export type GgufValue = number | bigint | boolean | string | GgufArray;

/** ggml tensor types this reader knows: id → [name, values per block, bytes per block]. */
export const GGML_TYPES: Record<number, readonly [string, number, number]> = {
  0: ['F32', 1, 4],
  1: ['F16', 1, 2],
  2: ['Q4_0', 32, 18],
  3: ['Q4_1', 32, 20],
  6: ['Q5_0', 32, 22],
  7: ['Q5_1', 32, 24],
  8: ['Q8_0', 32, 34],
  12: ['Q4_K', 256, 144],
  13: ['Q5_K', 256, 176],
  14: ['Q6_K', 256, 210],
  30: ['BF16', 1, 2],
};

export interface GgufTensorInfo {
  name: string;
  /** ggml order: fastest-varying dimension first. */
  dims: number[];
  type: number;
  typeName: string;
  /** Bytes from `dataOffset`. */
  offset: number;
  byteLength: number;
}

export interface GgufFile {
  version: number;
  metadata: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  alignment: number;
}

const DEFAULT_ALIGNMENT = 32;

/** Value type ids of the GGUF spec. */
const V = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;
const NUMERIC_ARRAYS: Record<number, [bytes: number, make: (buf: ArrayBuffer) => GgufArray]> = {
  [V.U8]: [1, (b) => new Uint8Array(b)],
  [V.I8]: [1, (b) => new Int8Array(b)],
  [V.U16]: [2, (b) => new Uint16Array(b)],
  [V.I16]: [2, (b) => new Int16Array(b)],
  [V.U32]: [4, (b) => new Uint32Array(b)],
  [V.I32]: [4, (b) => new Int32Array(b)],
  [V.F32]: [4, (b) => new Float32Array(b)],
  [V.U64]: [8, (b) => new BigUint64Array(b)],
  [V.I64]: [8, (b) => new BigInt64Array(b)],
  [V.F64]: [8, (b) => new Float64Array(b)],
};

export function readGguf(bytes: Uint8Array, label = 'GGUF file'): GgufFile {
  const r = new Cursor(bytes, label);
  const magic = r.bytes(4, 'magic');
  if (String.fromCharCode(...magic) !== 'GGUF') throw new GgufError(`${label}: not a GGUF file (magic ${JSON.stringify(String.fromCharCode(...magic))})`);
  const version = r.u32('version');
  if (version !== 2 && version !== 3) throw new GgufError(`${label}: GGUF version ${version} is not supported (only 2 and 3)`);
  const tensorCount = r.count('tensor count');
  const kvCount = r.count('metadata count');
  const metadata: Record<string, GgufValue> = {};
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(`metadata key ${i}`);
    metadata[key] = r.value(r.u32(key), key);
  }
  const alignment = metadata['general.alignment'] ?? DEFAULT_ALIGNMENT;
  if (typeof alignment !== 'number' || alignment <= 0 || alignment % 8 !== 0) throw new GgufError(`${label}: general.alignment ${String(alignment)} is not a positive multiple of 8`);
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string(`tensor ${i} name`);
    const nDims = r.u32(`${name} dimension count`);
    if (nDims > 4) throw new GgufError(`${label}: tensor ${name} has ${nDims} dimensions (at most 4)`);
    const dims = Array.from({ length: nDims }, () => r.count(`${name} dimension`, bytes.byteLength * 2));
    const type = r.u32(`${name} type`);
    const offset = r.count(`${name} offset`, bytes.byteLength);
    const known = GGML_TYPES[type];
    if (!known) throw new GgufError(`${label}: tensor ${name} has ggml type ${type}, which this reader does not support (supported: ${Object.values(GGML_TYPES).map(([n]) => n).join(', ')})`);
    const [typeName, blockValues, blockBytes] = known;
    const values = dims.reduce((a, b) => a * b, 1);
    if (dims[0]! % blockValues !== 0) throw new GgufError(`${label}: tensor ${name} rows of ${dims[0]} values are not whole ${typeName} blocks of ${blockValues}`);
    tensors.push({ name, dims, type, typeName, offset, byteLength: (values / blockValues) * blockBytes });
  }
  const dataOffset = Math.ceil(r.at / alignment) * alignment;
  for (const t of tensors) {
    const end = dataOffset + t.offset + t.byteLength;
    if (end > bytes.byteLength) throw new GgufError(`${label}: truncated: tensor ${t.name} ends at byte ${end}, but the file has ${bytes.byteLength}`);
  }
  return { version, metadata, tensors, dataOffset, alignment };
}

/** The raw bytes of one tensor, as a view into the file. */
export function tensorBytes(bytes: Uint8Array, file: GgufFile, t: GgufTensorInfo): Uint8Array {
  return bytes.subarray(file.dataOffset + t.offset, file.dataOffset + t.offset + t.byteLength);
}

/** Bounds-checked little-endian reads; a read past the end names what was being read. */
class Cursor {
  at = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(
    private readonly buf: Uint8Array,
    private readonly label: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number, what: string): number {
    if (this.at + n > this.buf.byteLength) throw new GgufError(`${this.label}: truncated while reading ${what} (needs ${n} bytes at offset ${this.at}, the file has ${this.buf.byteLength})`);
    const at = this.at;
    this.at += n;
    return at;
  }

  bytes(n: number, what: string): Uint8Array {
    const at = this.need(n, what);
    return this.buf.subarray(at, at + n);
  }

  u32(what: string): number {
    return this.view.getUint32(this.need(4, what), true);
  }

  /**
   * A u64 count, size or offset. Each counted item takes at least one byte of what is left (or, for
   * dimensions and offsets, `limit`), so a larger value means a truncated or corrupt file.
   */
  count(what: string, limit = this.buf.byteLength - this.at - 8): number {
    const v = this.view.getBigUint64(this.need(8, what), true);
    if (v > BigInt(Math.max(0, limit))) throw new GgufError(`${this.label}: truncated or corrupt while reading ${what}: ${v} is more than the ${Math.max(0, limit)} bytes left in the ${this.buf.byteLength}-byte file`);
    return Number(v);
  }

  string(what: string): string {
    const n = this.count(`${what} length`);
    try {
      return this.decoder.decode(this.bytes(n, what));
    } catch (cause) {
      if (cause instanceof GgufError) throw cause;
      throw new GgufError(`${this.label}: ${what} is not valid UTF-8`);
    }
  }

  value(type: number, key: string): GgufValue {
    const v = this.view;
    switch (type) {
      case V.U8: return v.getUint8(this.need(1, key));
      case V.I8: return v.getInt8(this.need(1, key));
      case V.U16: return v.getUint16(this.need(2, key), true);
      case V.I16: return v.getInt16(this.need(2, key), true);
      case V.U32: return v.getUint32(this.need(4, key), true);
      case V.I32: return v.getInt32(this.need(4, key), true);
      case V.F32: return v.getFloat32(this.need(4, key), true);
      case V.BOOL: return v.getUint8(this.need(1, key)) !== 0;
      case V.STRING: return this.string(key);
      case V.U64: return v.getBigUint64(this.need(8, key), true);
      case V.I64: return v.getBigInt64(this.need(8, key), true);
      case V.F64: return v.getFloat64(this.need(8, key), true);
      case V.ARRAY: return this.array(key);
      default: throw new GgufError(`${this.label}: metadata ${key} has unknown value type ${type}`);
    }
  }

  private array(key: string): GgufArray {
    const type = this.u32(`${key} element type`);
    const n = this.count(`${key} length`);
    const numeric = NUMERIC_ARRAYS[type];
    if (numeric) {
      const [size, make] = numeric;
      const raw = this.bytes(n * size, key);
      return make(raw.slice().buffer); // copied: the file offset need not be aligned for the element type
    }
    if (type === V.STRING) return Array.from({ length: n }, () => this.string(key));
    if (type === V.BOOL) return Array.from(this.bytes(n, key), (b) => b !== 0);
    return Array.from({ length: n }, () => this.value(type, key));
  }
}

/** A numeric metadata value (any integer or float type); `fallback` when absent, else a GgufError naming the key. */
export function ggufNumber(file: GgufFile, key: string, label: string, fallback?: number): number {
  const v = file.metadata[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  throw new GgufError(`${label}: metadata ${key} is ${v === undefined ? 'missing' : `not a number (${typeof v})`}`);
}
