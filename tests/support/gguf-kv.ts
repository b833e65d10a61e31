/**
 * Test-only reader of a GGUF file's header and metadata (key/value) section; tensors are not read.
 * Stands in for the project's GGUF reader (models/gguf/) in the tokenizer tests, so those tests do not
 * depend on it. Arrays of strings come back as string[], numeric arrays as typed arrays.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export type GgufKvValue = number | bigint | boolean | string | string[] | ArrayLike<number | bigint> | GgufKvValue[];

const NUMERIC: Record<number, { bytes: number; read: (v: DataView, o: number) => number | bigint; array: (n: number) => ArrayLike<number | bigint> & { [i: number]: number | bigint } }> = {
  0: { bytes: 1, read: (v, o) => v.getUint8(o), array: (n) => new Uint8Array(n) },
  1: { bytes: 1, read: (v, o) => v.getInt8(o), array: (n) => new Int8Array(n) },
  2: { bytes: 2, read: (v, o) => v.getUint16(o, true), array: (n) => new Uint16Array(n) },
  3: { bytes: 2, read: (v, o) => v.getInt16(o, true), array: (n) => new Int16Array(n) },
  4: { bytes: 4, read: (v, o) => v.getUint32(o, true), array: (n) => new Uint32Array(n) },
  5: { bytes: 4, read: (v, o) => v.getInt32(o, true), array: (n) => new Int32Array(n) },
  6: { bytes: 4, read: (v, o) => v.getFloat32(o, true), array: (n) => new Float32Array(n) },
  10: { bytes: 8, read: (v, o) => v.getBigUint64(o, true), array: (n) => new BigUint64Array(n) },
  11: { bytes: 8, read: (v, o) => v.getBigInt64(o, true), array: (n) => new BigInt64Array(n) },
  12: { bytes: 8, read: (v, o) => v.getFloat64(o, true), array: (n) => new Float64Array(n) },
};
const BOOL = 7;
const STRING = 8;
const ARRAY = 9;

/** Reads the file from its start in growing chunks until the metadata section has been parsed. */
export function readGgufKv(path: string): Record<string, GgufKvValue> {
  const fd = openSync(path, 'r');
  try {
    for (let size = 1 << 22; ; size *= 2) {
      const buf = new Uint8Array(size);
      const got = readSync(fd, buf, 0, size, 0);
      try {
        return parseKv(buf.subarray(0, got));
      } catch (e) {
        if (!(e instanceof RangeError) || got < size) throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function parseKv(bytes: Uint8Array): Record<string, GgufKvValue> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let at = 0;
  const u32 = (): number => ((at += 4), view.getUint32(at - 4, true));
  const u64 = (): number => ((at += 8), Number(view.getBigUint64(at - 8, true)));
  const str = (): string => {
    const n = u64();
    if (at + n > bytes.length) throw new RangeError('string past the end of the buffer');
    return text.decode(bytes.subarray(at, (at += n)));
  };
  const value = (type: number): GgufKvValue => {
    if (type === STRING) return str();
    if (type === BOOL) return view.getUint8(at++) !== 0;
    if (type === ARRAY) {
      const elem = u32();
      const n = u64();
      if (elem === STRING) return Array.from({ length: n }, str);
      const num = NUMERIC[elem];
      if (!num) return Array.from({ length: n }, () => value(elem));
      if (at + n * num.bytes > bytes.length) throw new RangeError('array past the end of the buffer');
      const out = num.array(n);
      for (let i = 0; i < n; i++, at += num.bytes) out[i] = num.read(view, at);
      return out;
    }
    const num = NUMERIC[type];
    if (!num) throw new Error(`GGUF metadata: unknown value type ${type}`);
    at += num.bytes;
    return num.read(view, at - num.bytes);
  };

  if (text.decode(bytes.subarray(0, 4)) !== 'GGUF') throw new Error('not a GGUF file (magic is not "GGUF")');
  at = 4;
  const version = u32();
  if (version !== 3) throw new Error(`GGUF version ${version}; this reader knows version 3`);
  u64(); // tensor count
  const kvCount = u64();
  const out: Record<string, GgufKvValue> = {};
  for (let i = 0; i < kvCount; i++) {
    const key = str();
    out[key] = value(u32());
  }
  return out;
}
