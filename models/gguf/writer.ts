/**
 * GGUF (version 3) writer for llama-architecture models, so llama.cpp-based runtimes (wllama) can run
 * the very same weights. llama2.c stores Q/K rows in the original interleaved-RoPE layout that
 * llama.cpp's "llama" architecture expects, so weights go in unpermuted. Q8_0 is applied to matrices
 * whose rows are a multiple of 32 long; other tensors stay F32, as llama.cpp's own quantizer does.
 */
import type { Llama2cVocab } from '../llama2c/tokenizer-bin.ts';
import { hfPieces } from '../hf/tokenizer.ts';
import { kvDim, qDim, W, type DecoderModel } from '../spec.ts';

export type GgufDtype = 'F32' | 'Q8_0';
const ALIGN = 32;
const GGML_TYPE = { F32: 0, Q8_0: 8 } as const;
const FILE_TYPE = { F32: 0, Q8_0: 7 } as const; // llama_ftype: ALL_F32, MOSTLY_Q8_0
const VALUE = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9 } as const;

type Meta = [key: string, type: 'u32' | 'f32' | 'bool' | 'str', value: number | boolean | string] | [key: string, type: 'strs' | 'f32s' | 'i32s', value: string[] | Float32Array | Int32Array];

interface Tensor {
  name: string;
  /** ggml order: fastest-varying dimension first. */
  dims: number[];
  type: number;
  data: Uint8Array;
}

export function buildGguf(model: DecoderModel, vocab: Llama2cVocab, dtype: GgufDtype, name: string): Uint8Array {
  const { spec: s, weights: w } = model;
  const pieces = hfPieces(vocab);
  const tokenTypes = Int32Array.from(pieces, (p, id) => (id === 0 ? 2 : id < 3 ? 3 : /^<0x[0-9A-F]{2}>$/.test(p) ? 6 : 1));
  const meta: Meta[] = [
    ['general.architecture', 'str', 'llama'],
    ['general.name', 'str', name],
    ['general.file_type', 'u32', FILE_TYPE[dtype]],
    ['general.alignment', 'u32', ALIGN],
    ['llama.context_length', 'u32', s.contextLength],
    ['llama.embedding_length', 'u32', s.dim],
    ['llama.block_count', 'u32', s.nLayers],
    ['llama.feed_forward_length', 'u32', s.hiddenDim],
    ['llama.rope.dimension_count', 'u32', s.headSize],
    ['llama.rope.freq_base', 'f32', s.layers[0]!.ropeTheta],
    ['llama.attention.head_count', 'u32', s.nHeads],
    ['llama.attention.head_count_kv', 'u32', s.nKvHeads],
    ['llama.attention.layer_norm_rms_epsilon', 'f32', s.norm.eps],
    ['tokenizer.ggml.model', 'str', 'llama'],
    ['tokenizer.ggml.tokens', 'strs', pieces],
    ['tokenizer.ggml.scores', 'f32s', vocab.scores],
    ['tokenizer.ggml.token_type', 'i32s', tokenTypes],
    ['tokenizer.ggml.unknown_token_id', 'u32', s.tokens.unk ?? 0],
    ['tokenizer.ggml.bos_token_id', 'u32', s.tokens.bos],
    ['tokenizer.ggml.eos_token_id', 'u32', s.tokens.eos],
    ['tokenizer.ggml.add_bos_token', 'bool', true],
    ['tokenizer.ggml.add_eos_token', 'bool', false],
  ];

  const f32 = (name: string, data: Float32Array, dims: number[]): Tensor => ({ name, dims, type: GGML_TYPE.F32, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  /** A matrix stored [out, in] row-major: ggml dims [in, out]. */
  const matrix = (name: string, data: Float32Array, rows: number, cols: number): Tensor =>
    dtype === 'Q8_0' && cols % 32 === 0 ? { name, dims: [cols, rows], type: GGML_TYPE.Q8_0, data: quantizeQ8_0(data) } : f32(name, data, [cols, rows]);

  const tensors: Tensor[] = [matrix(W.embedding, w.get(W.embedding), s.vocabSize, s.dim)];
  const kv = kvDim(s);
  const qd = qDim(s);
  for (let l = 0; l < s.nLayers; l++) {
    const t = (name: Parameters<typeof W.layer>[1]): [string, Float32Array] => [W.layer(l, name), w.get(W.layer(l, name))];
    tensors.push(
      f32(...t('attn_norm'), [s.dim]),
      matrix(...t('attn_q'), qd, s.dim),
      matrix(...t('attn_k'), kv, s.dim),
      matrix(...t('attn_v'), kv, s.dim),
      matrix(...t('attn_output'), s.dim, qd),
      f32(...t('ffn_norm'), [s.dim]),
      matrix(...t('ffn_gate'), s.hiddenDim, s.dim),
      matrix(...t('ffn_down'), s.dim, s.hiddenDim),
      matrix(...t('ffn_up'), s.hiddenDim, s.dim),
    );
  }
  tensors.push(f32(W.outputNorm, w.get(W.outputNorm), [s.dim]));
  // Without output.weight llama.cpp ties the classifier to token_embd, as llama2.c's shared classifier does.
  if (!s.tiedEmbeddings) tensors.push(matrix(W.output, w.get(W.output), s.vocabSize, s.dim));
  return serialize(meta, tensors);
}

/** Q8_0: blocks of 32 values as one float16 scale (max |x| / 127) and 32 int8. */
export function quantizeQ8_0(data: Float32Array): Uint8Array {
  const blocks = data.length / 32;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(data[b * 32 + i]!));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    view.setUint16(b * 34, toHalf(d), true);
    for (let i = 0; i < 32; i++) view.setInt8(b * 34 + 2 + i, Math.round(data[b * 32 + i]! * id));
  }
  return out;
}

function toHalf(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  let exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant = (mant | 0x800000) >>> (1 - exp);
    return sign | ((mant + 0x1000) >>> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  const half = sign | (exp << 10) | (mant >>> 13);
  return mant & 0x1000 ? half + 1 : half; // round half up on the dropped bits
}

function serialize(meta: Meta[], tensors: Tensor[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  const u32 = (v: number): void => void parts.push(new Uint8Array(Uint32Array.of(v).buffer));
  const u64 = (v: number): void => void parts.push(new Uint8Array(BigUint64Array.of(BigInt(v)).buffer));
  const str = (v: string): void => {
    const b = enc.encode(v);
    u64(b.byteLength);
    parts.push(b);
  };
  parts.push(enc.encode('GGUF'));
  u32(3);
  u64(tensors.length);
  u64(meta.length);
  for (const [key, type, value] of meta) {
    str(key);
    switch (type) {
      case 'u32': u32(VALUE.UINT32); u32(value as number); break;
      case 'f32': u32(VALUE.FLOAT32); parts.push(new Uint8Array(Float32Array.of(value as number).buffer)); break;
      case 'bool': u32(VALUE.BOOL); parts.push(Uint8Array.of(value ? 1 : 0)); break;
      case 'str': u32(VALUE.STRING); str(value as string); break;
      case 'strs': u32(VALUE.ARRAY); u32(VALUE.STRING); u64((value as string[]).length); for (const v of value as string[]) str(v); break;
      case 'f32s': u32(VALUE.ARRAY); u32(VALUE.FLOAT32); u64((value as Float32Array).length); parts.push(new Uint8Array((value as Float32Array).slice().buffer)); break;
      case 'i32s': u32(VALUE.ARRAY); u32(VALUE.INT32); u64((value as Int32Array).length); parts.push(new Uint8Array((value as Int32Array).slice().buffer)); break;
    }
  }
  let offset = 0;
  const offsets = tensors.map((t) => {
    const at = offset;
    offset += Math.ceil(t.data.byteLength / ALIGN) * ALIGN;
    return at;
  });
  tensors.forEach((t, i) => {
    str(t.name);
    u32(t.dims.length);
    for (const d of t.dims) u64(d);
    u32(t.type);
    u64(offsets[i]!);
  });
  const headerBytes = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(Math.ceil(headerBytes / ALIGN) * ALIGN + offset);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  const dataStart = Math.ceil(headerBytes / ALIGN) * ALIGN;
  tensors.forEach((t, i) => out.set(t.data, dataStart + offsets[i]!));
  return out;
}
