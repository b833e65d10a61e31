/**
 * Builds the Llama decoder-with-past graph that transformers.js runs for `model_type: "llama"`:
 * inputs input_ids, attention_mask, position_ids, past_key_values.{i}.key/value (and optionally
 * num_logits_to_keep); outputs logits and present.{i}.key/value, plus last_hidden_state (the final
 * normed hidden states) for embeddings. The graph uses ONNX Runtime's fused operators, because on
 * small models the per-node cost dominates: SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization
 * for RMSNorm and the residual add, GroupQueryAttention with built-in interleaved RoPE (the order
 * llama2.c and GGUF store Q/K in, so no weight permutation) where its CPU kernel allows it (head size
 * a multiple of 16), RotaryEmbedding plus batched MatMul attention otherwise, QuickGelu(alpha=1) for
 * SiLU and MatMulNBits (4-bit) or DynamicQuantizeMatMul (8-bit) for quantized weights.
 */
import { kvDim, qDim, W, type DecoderModel, type DecoderSpec, type DecoderWeights } from '../spec.ts';
import { quantizedEmbedding, type QuantizedEmbedding } from './embedding.ts';
import { GraphBuilder } from './graph.ts';
import { BITS, linear as linearLayer, MS, type WeightDtype } from './linear.ts';

export interface BuiltGraph {
  bytes: Uint8Array;
  nodeCount: number;
  attention: 'GroupQueryAttention' | 'RotaryEmbedding+MatMul';
  /** Bytes of the weights of the linear layers (attention, FFN, classifier), as stored. */
  linearWeightBytes: number;
}

/** Choices of the graph that do not change what it computes. */
export interface GraphOptions {
  /** Add the `num_logits_to_keep` input (0 = every position), so generation computes one row of logits. */
  numLogitsToKeep?: boolean;
  /** Store the token embedding block-quantized (q8, q4) and read it with GatherBlockQuantized. */
  quantizedEmbedding?: boolean;
}

export function buildLlamaGraph(model: DecoderModel, dtype: WeightDtype, producerVersion: string, options: GraphOptions = {}): BuiltGraph {
  const { spec: s, weights: w } = model;
  const g = new GraphBuilder();
  const hs = s.headSize;
  const kv = kvDim(s);
  const qd = qDim(s);
  const useGqa = hs % 16 === 0;
  const bits = BITS[dtype];
  let linearWeightBytes = 0;
  if (new Set(s.layers.map((l) => `${l.attention} ${l.ropeTheta}`)).size !== 1 || s.layers[0]!.attention !== 'global') {
    throw new Error('the llama graph needs every layer to use global attention with one RoPE base');
  }

  /** y = x · Wᵀ for W stored [n, k] (output rows), as fp32 MatMul or a quantized matmul (linear.ts). */
  const linear = (name: string, x: string, weight: Float32Array, n: number, k: number, output?: string): string => {
    const { y, weightBytes } = linearLayer(g, name, x, weight, n, k, bits, output ? { output } : {});
    linearWeightBytes += weightBytes;
    return y;
  };

  const { inputIds, attentionMask, positionIds, past, logitsToKeep } = decoderIO(g, s, options);
  const embedding = tokenEmbedding(g, s, w.get(W.embedding), bits, options);
  const { cos, sin } = ropeCache(s.contextLength, hs, s.layers[0]!.ropeTheta);
  const cosCache = g.initializer('rope.cos_cache', 'float32', [s.contextLength, hs / 2], cos);
  const sinCache = g.initializer('rope.sin_cache', 'float32', [s.contextLength, hs / 2], sin);
  const x0 = embedding.lookup(inputIds);

  // Per-sequence values derived once from attention_mask and shared by every layer.
  const attentionInputs = useGqa ? gqaLengths(g, attentionMask) : additiveCausalMask(g, inputIds, attentionMask);

  const stream = residualStream(g, x0, s.dim, s.norm.eps);
  const norm = stream.norm;

  for (let l = 0; l < s.nLayers; l++) {
    const p = `/model/layers.${l}`;
    const h = norm(`${p}/input_layernorm`, w.get(W.layer(l, 'attn_norm')));
    // Without GQA the 1/√head_size score scale is folded into Wq (RoPE is linear, so it commutes).
    const wq = useGqa ? w.get(W.layer(l, 'attn_q')) : scaled(w.get(W.layer(l, 'attn_q')), 1 / Math.sqrt(hs));
    const qkv = linear(`${p}/attn/qkv_proj`, h, concat(wq, w.get(W.layer(l, 'attn_k')), w.get(W.layer(l, 'attn_v'))), qd + 2 * kv, s.dim);
    const presentKey = `present.${l}.key`;
    const presentValue = `present.${l}.value`;
    let attn: string;
    if (useGqa) {
      const { seqlensK, totalLength } = attentionInputs as GqaLengths;
      attn = g.node(
        'GroupQueryAttention',
        `${p}/attn/gqa`,
        [qkv, '', '', past[l]!.key, past[l]!.value, seqlensK, totalLength, cosCache, sinCache],
        [`${p}/attn/gqa/out`, presentKey, presentValue],
        { num_heads: s.nHeads, kv_num_heads: s.nKvHeads, do_rotary: 1, rotary_interleaved: 1 },
        MS,
      )[0]!;
    } else {
      attn = matmulAttention(g, p, qkv, past[l]!, presentKey, presentValue, attentionInputs as string, {
        positionIds, cosCache, sinCache, nHeads: s.nHeads, nKvHeads: s.nKvHeads, headSize: hs, qDim: qd, kvDim: kv,
      });
    }
    stream.add(linear(`${p}/attn/o_proj`, attn, w.get(W.layer(l, 'attn_output')), s.dim, qd));
    const h2 = norm(`${p}/post_attention_layernorm`, w.get(W.layer(l, 'ffn_norm')));
    const gate = linear(`${p}/mlp/gate_proj`, h2, w.get(W.layer(l, 'ffn_gate')), s.hiddenDim, s.dim);
    const up = linear(`${p}/mlp/up_proj`, h2, w.get(W.layer(l, 'ffn_up')), s.hiddenDim, s.dim);
    const act = g.op('QuickGelu', `${p}/mlp/silu`, [gate], { alpha: { float: 1 } }, MS);
    const gated = g.op('Mul', `${p}/mlp/gated`, [act, up]);
    stream.add(linear(`${p}/mlp/down_proj`, gated, w.get(W.layer(l, 'ffn_down')), s.dim, s.hiddenDim));
  }
  const hf = norm('/model/norm', w.get(W.outputNorm));
  g.node('Identity', '/model/last_hidden_state', [hf], ['last_hidden_state']);
  linearWeightBytes += lmHead(g, s, w, bits, hf, inputIds, logitsToKeep, embedding, bits === 4);

  return {
    bytes: g.encode('llama', producerVersion, { '': 17, [MS]: 1 }),
    nodeCount: g.nodeCount,
    attention: useGqa ? 'GroupQueryAttention' : 'RotaryEmbedding+MatMul',
    linearWeightBytes,
  };
}

/** The graph inputs and outputs transformers.js feeds and reads for a decoder with past. */
export function decoderIO(g: GraphBuilder, s: DecoderSpec, options: GraphOptions) {
  const hs = s.headSize;
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const past = Array.from({ length: s.nLayers }, (_, l) => ({
    key: g.input(`past_key_values.${l}.key`, 'float32', ['batch_size', s.nKvHeads, 'past_sequence_length', hs]),
    value: g.input(`past_key_values.${l}.value`, 'float32', ['batch_size', s.nKvHeads, 'past_sequence_length', hs]),
  }));
  const logitsToKeep = options.numLogitsToKeep ? g.input('num_logits_to_keep', 'int64', []) : null;
  g.output('logits', 'float32', ['batch_size', logitsToKeep ? 'num_logits' : 'sequence_length', s.vocabSize]);
  // Final (normed) hidden states, for embeddings and trained classifiers; transformers.js ignores it.
  g.output('last_hidden_state', 'float32', ['batch_size', 'sequence_length', s.dim]);
  for (let l = 0; l < s.nLayers; l++) {
    for (const kind of ['key', 'value']) {
      g.output(`present.${l}.${kind}`, 'float32', ['batch_size', s.nKvHeads, 'total_sequence_length', hs]);
    }
  }
  return { inputIds, attentionMask, positionIds, past, logitsToKeep };
}

/** The token table: float (fp32, or when not asked to quantize it) or block-quantized (embedding.ts). */
export interface TokenEmbedding {
  table: Float32Array;
  float: string | null;
  quantized: QuantizedEmbedding | null;
  lookup(ids: string): string;
}

export function tokenEmbedding(g: GraphBuilder, s: DecoderSpec, table: Float32Array, bits: 4 | 8 | null, options: GraphOptions): TokenEmbedding {
  const quantized = options.quantizedEmbedding && bits !== null ? quantizedEmbedding(g, 'model.embed_tokens', table, s.vocabSize, s.dim, bits) : null;
  const float = quantized ? null : g.initializer('model.embed_tokens.weight', 'float32', [s.vocabSize, s.dim], table);
  return {
    table,
    float,
    quantized,
    lookup: (ids) => (quantized ? quantized.lookup(ids) : g.op('Gather', '/model/embed_tokens', [float!, ids], { axis: 0 })),
  };
}

/**
 * The residual stream with pre-norms: `norm` normalises the stream, first adding the pending
 * sub-layer output with one fused SkipSimplifiedLayerNormalization; `add` queues a sub-layer output.
 */
export function residualStream(g: GraphBuilder, x0: string, dim: number, eps: number) {
  let residual = x0;
  let pending: string | null = null;
  const epsilon = { float: eps };
  return {
    norm(name: string, gamma: Float32Array): string {
      const weight = g.initializer(`${name}.weight`, 'float32', [dim], gamma);
      if (pending === null) return g.op('SimplifiedLayerNormalization', name, [residual, weight], { axis: -1, epsilon });
      const [normed, , , sum] = g.node('SkipSimplifiedLayerNormalization', name, [pending, residual, weight], [`${name}/out`, '', '', `${name}/residual`], { epsilon }, MS);
      residual = sum!;
      pending = null;
      return normed!;
    },
    add(output: string): void {
      pending = output;
    },
  };
}

/**
 * The LM head on the final hidden states; only the last `num_logits_to_keep` positions reach it
 * (Slice from −0 keeps them all). Returns the bytes of weights it adds.
 */
export function lmHead(g: GraphBuilder, s: DecoderSpec, w: DecoderWeights, bits: 4 | 8 | null, hf: string, inputIds: string, logitsToKeep: string | null, embedding: TokenEmbedding, reuseQuantizedTable: boolean): number {
  const headInput = logitsToKeep
    ? g.op('Slice', '/lm_head/keep', [hf, g.op('Unsqueeze', '/lm_head/keep_start', [g.op('Neg', '/lm_head/keep_neg', [logitsToKeep]), g.int64s([0])]), g.int64s([Number.MAX_SAFE_INTEGER]), g.int64s([1])])
    : hf;
  if (bits === null) {
    // Tied classifier as Gemm(transB=1) so the embedding table is stored and held once.
    const flat = g.op('Reshape', '/lm_head/flatten', [headInput, g.int64s([-1, s.dim])]);
    const logits2d = g.op('Gemm', '/lm_head/gemm', [flat, s.tiedEmbeddings ? embedding.float! : g.initializer('lm_head.weight', 'float32', [s.vocabSize, s.dim], w.get(W.output))], { transB: 1 });
    const leading = logitsToKeep ? g.op('Shape', '/lm_head/kept_shape', [headInput], { end: 2 }) : g.op('Shape', '/lm_head/ids_shape', [inputIds]);
    const outShape = g.op('Concat', '/lm_head/out_shape', [leading, g.int64s([s.vocabSize])], { axis: 0 });
    g.node('Reshape', '/lm_head/unflatten', [logits2d, outShape], ['logits']);
    return s.tiedEmbeddings ? embedding.table.byteLength : 0;
  }
  if (embedding.quantized && s.tiedEmbeddings && reuseQuantizedTable) {
    embedding.quantized.head(headInput, 'logits');
    return embedding.quantized.bytes;
  }
  return linearLayer(g, '/lm_head', headInput, s.tiedEmbeddings ? embedding.table : w.get(W.output), s.vocabSize, s.dim, bits, { output: 'logits' }).weightBytes;
}

export interface GqaLengths {
  seqlensK: string;
  totalLength: string;
}

/** GroupQueryAttention wants int32 (valid length − 1) per row and the total length as a scalar. */
export function gqaLengths(g: GraphBuilder, attentionMask: string): GqaLengths {
  const sum = g.op('ReduceSum', '/attn_mask/sum', [attentionMask, g.int64s([1])], { keepdims: 0 });
  const minusOne = g.op('Sub', '/attn_mask/minus_one', [sum, g.int64s([1], true)]);
  const seqlensK = g.op('Cast', '/attn_mask/seqlens_k', [minusOne], { to: 6 });
  const maskShape = g.op('Shape', '/attn_mask/shape', [attentionMask]);
  const total = g.op('Gather', '/attn_mask/total_len_i64', [maskShape, g.int64s([1], true)], { axis: 0 });
  const totalLength = g.op('Cast', '/attn_mask/total_len', [total], { to: 6 });
  return { seqlensK, totalLength };
}

/** [batch, 1, 1, seq, total] additive mask: 0 where a query may attend (causal and not padding), −1e9 elsewhere. */
function additiveCausalMask(g: GraphBuilder, inputIds: string, attentionMask: string): string {
  const total = g.op('Gather', '/attn_mask/total', [g.op('Shape', '/attn_mask/shape', [attentionMask]), g.int64s([1], true)], { axis: 0 });
  const seq = g.op('Gather', '/attn_mask/seq', [g.op('Shape', '/attn_mask/ids_shape', [inputIds]), g.int64s([1], true)], { axis: 0 });
  const pastLen = g.op('Sub', '/attn_mask/past', [total, seq]);
  const one = g.int64s([1], true);
  const queryPos = g.op('Unsqueeze', '/attn_mask/query_pos', [g.op('Range', '/attn_mask/query_range', [pastLen, total, one]), g.int64s([1])]);
  const keyPos = g.op('Unsqueeze', '/attn_mask/key_pos', [g.op('Range', '/attn_mask/key_range', [g.int64s([0], true), total, one]), g.int64s([0])]);
  const causal = g.op('LessOrEqual', '/attn_mask/causal', [keyPos, queryPos]);
  const valid = g.op('Unsqueeze', '/attn_mask/valid', [g.op('Cast', '/attn_mask/valid_bool', [attentionMask], { to: 9 }), g.int64s([1, 2, 3])]);
  const allowed = g.op('And', '/attn_mask/allowed', [causal, valid]);
  return g.op('Where', '/attn_mask/bias', [allowed, g.float(0), g.float(-1e9)]);
}

interface AttentionShape {
  positionIds: string;
  cosCache: string;
  sinCache: string;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  qDim: number;
  kvDim: number;
}

/**
 * Grouped-query attention from standard ops for head sizes GroupQueryAttention's CPU kernel rejects:
 * queries are viewed as [batch, kv_heads, group, seq, head] so one batched MatMul serves every group.
 */
function matmulAttention(g: GraphBuilder, p: string, qkv: string, past: { key: string; value: string }, presentKey: string, presentValue: string, mask: string, a: AttentionShape): string {
  const group = a.nHeads / a.nKvHeads;
  const [q, k, v] = g.node('Split', `${p}/attn/split`, [qkv, g.int64s([a.qDim, a.kvDim, a.kvDim])], 3, { axis: -1 });
  const rope = (name: string, t: string, heads: number): string =>
    g.op('RotaryEmbedding', `${p}/attn/${name}`, [t, a.positionIds, a.cosCache, a.sinCache], { interleaved: 1, num_heads: heads }, MS);
  const toHeads = (name: string, t: string): string =>
    g.op('Transpose', `${p}/attn/${name}_heads`, [g.op('Reshape', `${p}/attn/${name}_split_heads`, [t, g.int64s([0, 0, a.nKvHeads, a.headSize])])], { perm: [0, 2, 1, 3] });
  g.node('Concat', `${p}/attn/key_cache`, [past.key, toHeads('k', rope('k_rope', k!, a.nKvHeads))], [presentKey], { axis: 2 });
  g.node('Concat', `${p}/attn/value_cache`, [past.value, toHeads('v', v!)], [presentValue], { axis: 2 });
  const qRot = rope('q_rope', q!, a.nHeads);
  const q5 = g.op('Transpose', `${p}/attn/q_heads`, [g.op('Reshape', `${p}/attn/q_split_heads`, [qRot, g.int64s([0, 0, a.nKvHeads, group, a.headSize])])], { perm: [0, 2, 3, 1, 4] });
  const keyT = g.op('Transpose', `${p}/attn/key_t`, [g.op('Unsqueeze', `${p}/attn/key_5d`, [presentKey, g.int64s([2])])], { perm: [0, 1, 2, 4, 3] });
  const scores = g.op('Add', `${p}/attn/masked`, [g.op('MatMul', `${p}/attn/scores`, [q5, keyT]), mask]);
  const probs = g.op('Softmax', `${p}/attn/softmax`, [scores], { axis: -1 });
  const ctx = g.op('MatMul', `${p}/attn/context`, [probs, g.op('Unsqueeze', `${p}/attn/value_5d`, [presentValue, g.int64s([2])])]);
  const merged = g.op('Transpose', `${p}/attn/context_t`, [ctx], { perm: [0, 3, 1, 2, 4] });
  return g.op('Reshape', `${p}/attn/merge_heads`, [merged, g.int64s([0, 0, -1])]);
}

/** cos/sin of pos·θ^(−2i/head_size) for adjacent-pair RoPE, computed in double precision. */
export function ropeCache(seqLen: number, hs: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = hs / 2;
  const cos = new Float32Array(seqLen * half);
  const sin = new Float32Array(seqLen * half);
  for (let pos = 0; pos < seqLen; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = pos * Math.pow(theta, (-2 * i) / hs);
      cos[pos * half + i] = Math.cos(angle);
      sin[pos * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function scaled(w: Float32Array, factor: number): Float32Array {
  return w.map((v) => v * factor);
}
