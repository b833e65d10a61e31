/**
 * Typed access to a GGUF metadata record, whoever parsed it: strings, numbers (or bigints for 64-bit
 * values), booleans, string arrays as string[] and numeric arrays as typed arrays or number[].
 * A missing or mistyped key is a GgufMetadataError that names the key.
 */
export type GgufMetadata = Readonly<Record<string, unknown>>;

export class GgufMetadataError extends Error {
  override name = 'GgufMetadataError';
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  return typeof value;
}

function wrongType(key: string, value: unknown, expected: string): GgufMetadataError {
  return new GgufMetadataError(`GGUF metadata: ${key} is ${describe(value)}, expected ${expected}`);
}

export function optionalString(md: GgufMetadata, key: string): string | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw wrongType(key, v, 'a string');
  return v;
}

export function requiredString(md: GgufMetadata, key: string): string {
  const v = optionalString(md, key);
  if (v === undefined) throw new GgufMetadataError(`GGUF metadata: ${key} is missing`);
  return v;
}

export function optionalBool(md: GgufMetadata, key: string): boolean | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw wrongType(key, v, 'a boolean');
  return v;
}

export function optionalInt(md: GgufMetadata, key: string): number | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw wrongType(key, v, 'an integer');
  return n;
}

export function requiredStringArray(md: GgufMetadata, key: string): readonly string[] {
  const v = md[key];
  if (v === undefined) throw new GgufMetadataError(`GGUF metadata: ${key} is missing`);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw wrongType(key, v, 'an array of strings');
  return v as string[];
}

/** A numeric array of the given length (typed array or number[]), or undefined when the key is absent. */
export function optionalNumberArray(md: GgufMetadata, key: string, length: number): ArrayLike<number> | undefined {
  const v = md[key];
  if (v === undefined) return undefined;
  const numeric =
    (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)) ||
    (Array.isArray(v) && v.every((x) => typeof x === 'number'));
  if (!numeric) throw wrongType(key, v, 'an array of numbers');
  const arr = v as ArrayLike<number>;
  if (arr.length < length) throw new GgufMetadataError(`GGUF metadata: ${key} has ${arr.length} entries for ${length} tokens`);
  return arr;
}
