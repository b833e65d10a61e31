/**
 * Reader for llama2.c "legacy" (version 0) checkpoints: a header of 7 int32 followed by float32 arrays.
 * Validates the header and the exact byte size so a truncated or foreign file fails with a clear reason.
 */
import { mapWeights, W, type DecoderModel, type DecoderSpec } from '../spec.ts';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export interface LlamaShape {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** True when the classifier shares the token embedding (llama2.c signals this with a positive vocab size). */
  sharedClassifier: boolean;
}

export interface LlamaWeights {
  tokenEmbedding: Float32Array; // [vocab, dim]
  rmsAtt: Float32Array[]; // L × [dim]
  wq: Float32Array[]; // L × [dim, dim]         ([out, in], row-major)
  wk: Float32Array[]; // L × [kvDim, dim]
  wv: Float32Array[]; // L × [kvDim, dim]
  wo: Float32Array[]; // L × [dim, dim]
  rmsFfn: Float32Array[]; // L × [dim]
  w1: Float32Array[]; // L × [hidden, dim]
  w2: Float32Array[]; // L × [dim, hidden]
  w3: Float32Array[]; // L × [hidden, dim]
  rmsFinal: Float32Array; // [dim]
  classifier: Float32Array; // [vocab, dim]; the embedding itself when shared
}

export interface Checkpoint {
  shape: LlamaShape;
  weights: LlamaWeights;
}

const HEADER_INTS = 7;
const LEGACY_MAGIC_V1 = 0x616b3432; // "ak42": llama2.c export versions ≥ 1, not this format

export function headSize(shape: LlamaShape): number {
  return shape.dim / shape.nHeads;
}

export function kvDim(shape: LlamaShape): number {
  return (shape.dim * shape.nKvHeads) / shape.nHeads;
}

/** Number of float32 values a legacy checkpoint of this shape holds after its header. */
export function legacyFloatCount(s: LlamaShape): number {
  const hs = headSize(s);
  const kv = kvDim(s);
  const perLayer = 2 * s.dim + 2 * s.dim * s.dim + 2 * kv * s.dim + 3 * s.hiddenDim * s.dim;
  return (
    s.vocabSize * s.dim +
    s.nLayers * perLayer +
    s.dim +
    s.seqLen * hs + // freq_cis_real, unused: RoPE is recomputed
    (s.sharedClassifier ? 0 : s.vocabSize * s.dim)
  );
}

export function parseLegacyCheckpoint(bytes: Uint8Array, label = 'checkpoint'): Checkpoint {
  if (bytes.byteLength < HEADER_INTS * 4) {
    throw new CheckpointError(`${label}: ${bytes.byteLength} bytes is too short for a llama2.c header (28 bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) === LEGACY_MAGIC_V1) {
    throw new CheckpointError(
      `${label}: this is a llama2.c version ${view.getInt32(4, true)} export ("ak42" magic); only the legacy (version 0) format is supported`,
    );
  }
  const h = Array.from({ length: HEADER_INTS }, (_, i) => view.getInt32(i * 4, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = h as [number, number, number, number, number, number, number];
  const shape: LlamaShape = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    vocabSize: Math.abs(rawVocab),
    seqLen,
    sharedClassifier: rawVocab > 0,
  };
  validateShape(shape, label);
  const expected = HEADER_INTS * 4 + legacyFloatCount(shape) * 4;
  if (bytes.byteLength !== expected) {
    throw new CheckpointError(
      `${label}: header says dim=${dim} hidden=${hiddenDim} layers=${nLayers} heads=${nHeads}/${nKvHeads} vocab=${rawVocab} seq=${seqLen}, ` +
        `which needs ${expected} bytes, but the file has ${bytes.byteLength}`,
    );
  }
  // Copy out of the file buffer so every tensor is 4-byte aligned wherever the bytes came from
  // (and not Buffer#slice, which in Node shares memory instead of copying).
  const body = new Uint8Array(bytes.byteLength - HEADER_INTS * 4);
  body.set(bytes.subarray(HEADER_INTS * 4));
  const floats = new Float32Array(body.buffer);
  let offset = 0;
  const take = (n: number): Float32Array => {
    const t = floats.subarray(offset, offset + n);
    offset += n;
    return t;
  };
  const perLayer = (n: number): Float32Array[] => Array.from({ length: nLayers }, () => take(n));
  const kv = kvDim(shape);
  const tokenEmbedding = take(shape.vocabSize * dim);
  const rmsAtt = perLayer(dim);
  const wq = perLayer(dim * dim);
  const wk = perLayer(kv * dim);
  const wv = perLayer(kv * dim);
  const wo = perLayer(dim * dim);
  const rmsFfn = perLayer(dim);
  const w1 = perLayer(hiddenDim * dim);
  const w2 = perLayer(dim * hiddenDim);
  const w3 = perLayer(hiddenDim * dim);
  const rmsFinal = take(dim);
  take(seqLen * headSize(shape)); // freq_cis_real + freq_cis_imag
  const classifier = shape.sharedClassifier ? tokenEmbedding : take(shape.vocabSize * dim);
  return {
    shape,
    weights: { tokenEmbedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, classifier },
  };
}

export function validateShape(s: LlamaShape, label = 'model'): void {
  const fields: Array<keyof LlamaShape> = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'seqLen'];
  for (const f of fields) {
    const v = s[f] as number;
    if (!Number.isInteger(v) || v <= 0 || v > 1 << 20) {
      throw new CheckpointError(`${label}: header field ${f}=${v} is not a plausible positive size (is this a llama2.c checkpoint?)`);
    }
  }
  if (s.dim % s.nHeads !== 0) throw new CheckpointError(`${label}: dim ${s.dim} is not divisible by n_heads ${s.nHeads}`);
  if (s.nHeads % s.nKvHeads !== 0) {
    throw new CheckpointError(`${label}: n_heads ${s.nHeads} is not a multiple of n_kv_heads ${s.nKvHeads}`);
  }
  if (headSize(s) % 2 !== 0) throw new CheckpointError(`${label}: head size ${headSize(s)} must be even for RoPE`);
}

/** llama2.c's fixed hyper-parameters, which its checkpoint header does not carry. */
const LLAMA2C_RMS_EPS = 1e-5;
const LLAMA2C_ROPE_THETA = 10000;

/** The checkpoint as a neutral decoder spec plus weights under standard names. */
export function checkpointModel(ckpt: Checkpoint): DecoderModel {
  const { shape: s, weights: w } = ckpt;
  const spec: DecoderSpec = {
    architecture: 'llama',
    dim: s.dim,
    hiddenDim: s.hiddenDim,
    nLayers: s.nLayers,
    nHeads: s.nHeads,
    nKvHeads: s.nKvHeads,
    headSize: headSize(s),
    vocabSize: s.vocabSize,
    contextLength: s.seqLen,
    norm: { kind: 'rms', eps: LLAMA2C_RMS_EPS },
    activation: 'silu',
    layers: Array.from({ length: s.nLayers }, () => ({ attention: 'global', window: null, ropeTheta: LLAMA2C_ROPE_THETA })),
    tokens: { bos: 1, eos: 2, unk: 0 },
    tiedEmbeddings: s.sharedClassifier,
  };
  const tensors = new Map<string, Float32Array>([
    [W.embedding, w.tokenEmbedding],
    [W.outputNorm, w.rmsFinal],
  ]);
  if (!s.sharedClassifier) tensors.set(W.output, w.classifier);
  for (let l = 0; l < s.nLayers; l++) {
    tensors.set(W.layer(l, 'attn_norm'), w.rmsAtt[l]!);
    tensors.set(W.layer(l, 'attn_q'), w.wq[l]!);
    tensors.set(W.layer(l, 'attn_k'), w.wk[l]!);
    tensors.set(W.layer(l, 'attn_v'), w.wv[l]!);
    tensors.set(W.layer(l, 'attn_output'), w.wo[l]!);
    tensors.set(W.layer(l, 'ffn_norm'), w.rmsFfn[l]!);
    tensors.set(W.layer(l, 'ffn_gate'), w.w1[l]!);
    tensors.set(W.layer(l, 'ffn_down'), w.w2[l]!);
    tensors.set(W.layer(l, 'ffn_up'), w.w3[l]!);
  }
  return { spec, weights: mapWeights(tensors, 'llama2.c checkpoint') };
}
