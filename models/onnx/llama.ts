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
import { quantizedEmbedding, type QuantizedEmbedding } from './block-embedding.ts';
import { GraphBuilder } from './graph.ts';
import { BITS, linear as linearLayer, MS, QUANTIZATION, type WeightDtype } from './linear.ts';
import { toFloat16 } from './half.ts';
import { concatRows, type NBitsWeight } from './quantize.ts';

export interface BuiltGraph {
  bytes: Uint8Array;
  nodeCount: number;
  attention: 'GroupQueryAttention' | 'RotaryEmbedding+MatMul';
  /** Bytes of the weights of the linear layers (attention, FFN, classifier), as stored. */
  linearWeightBytes: number;
  /** How the weights are stored, where that differs from the dtype's usual scheme. */
  quantization?: string;
}

/** Choices of the graph that do not change what it computes. */
export interface GraphOptions {
  /** Add the `num_logits_to_keep` input (0 = every position), so generation computes one row of logits. */
  numLogitsToKeep?: boolean;
  /**
   * Store the token embedding as 8-bit blocks (q8 and q4 alike) read by GatherBlockQuantized, with a
   * tied LM head as an 8-bit MatMulNBits over the same bytes: 4 bits there cost SmolLM2 a fifth of its
   * top-1 agreement, and 8 bits keep a q4 file under 0.2× of fp32.
   */
  quantizedEmbedding?: boolean;
  /**
   * RotaryEmbedding + batched MatMul attention even where GroupQueryAttention's CPU kernel accepts the
   * head size: onnxruntime-web's WASM GroupQueryAttention is several times slower on long prompts.
   */
  matmulAttention?: boolean;
  /**
   * Keep the source's own blocks in the file but expand them to float32 MatMul weights at session
   * creation (linear.ts expandBlocks): a 4-bit download that decodes at float speed in WASM, with
   * float32 weights in memory.
   */
  expandBlocks?: boolean;
}

export function buildLlamaGraph(model: DecoderModel, dtype: WeightDtype, producerVersion: string, options: GraphOptions = {}): BuiltGraph {
  const { spec: s, weights: w } = model;
  const g = new GraphBuilder();
  const hs = s.headSize;
  const kv = kvDim(s);
  const qd = qDim(s);
  const useGqa = hs % 16 === 0 && !options.matmulAttention;
  const bits = BITS[dtype];
  // q4f16: float16 activations, weights' scales, norms, RoPE tables and KV cache; logits stay float32.
  const half = dtype === 'q4f16';
  const ft = half ? 'float16' : 'float32';
  if (half && !useGqa) throw new Error(`q4f16 needs GroupQueryAttention (head size ${hs}${options.matmulAttention ? ', MatMul attention asked' : ' is not a multiple of 16'})`);
  /** A float initializer in the graph's activation type. */
  const floats = (name: string, dims: number[], v: Float32Array): string => floatInitializer(g, name, dims, v, half);
  let linearWeightBytes = 0;
  if (new Set(s.layers.map((l) => `${l.attention} ${l.ropeTheta}`)).size !== 1 || s.layers[0]!.attention !== 'global') {
    throw new Error('the llama graph needs every layer to use global attention with one RoPE base');
  }

  /** y = x · Wᵀ for W stored [n, k] (output rows), as fp32 MatMul or a quantized matmul (linear.ts). */
  const linear = (name: string, x: string, weight: Float32Array, n: number, k: number, opts: { output?: string; blocks?: NBitsWeight | null } = {}): string => {
    const { y, weightBytes } = linearLayer(g, name, x, weight, n, k, bits, { ...opts, ...(half && { float16: true }), ...(options.expandBlocks && { expand: true }) });
    linearWeightBytes += weightBytes;
    return y;
  };
  /** A layer matrix as the source's own blocks when they convert exactly to this dtype's width. */
  const kept: string[] = [];
  const blocksOf = (name: string): NBitsWeight | null => {
    const b = bits !== null && w.blocks ? w.blocks(name, bits) : null;
    if (b) kept.push(`${b.bits}`);
    return b;
  };

  const { inputIds, attentionMask, positionIds, past, logitsToKeep } = decoderIO(g, s, options, ft);
  const embedding = tokenEmbedding(g, s, w, bits, options, half);
  const { cos, sin } = ropeCache(s.contextLength, hs, s.layers[0]!.ropeTheta);
  const cosCache = floats('rope.cos_cache', [s.contextLength, hs / 2], cos);
  const sinCache = floats('rope.sin_cache', [s.contextLength, hs / 2], sin);
  const x0 = embedding.lookup(inputIds);

  // Per-sequence values derived once from attention_mask and shared by every layer.
  const attentionInputs = useGqa ? gqaLengths(g, attentionMask) : additiveCausalMask(g, inputIds, attentionMask);

  const stream = residualStream(g, x0, s.dim, s.norm.eps, half);
  const norm = stream.norm;

  for (let l = 0; l < s.nLayers; l++) {
    const p = `/model/layers.${l}`;
    const h = norm(`${p}/input_layernorm`, w.get(W.layer(l, 'attn_norm')));
    const qkvBlocks = [blocksOf(W.layer(l, 'attn_q')), blocksOf(W.layer(l, 'attn_k')), blocksOf(W.layer(l, 'attn_v'))];
    const fusedBlocks = qkvBlocks.every((b) => b !== null) ? concatRows(qkvBlocks as NBitsWeight[]) : null;
    // Without GQA the 1/√head_size score scale is folded into float Wq (RoPE is linear, so it commutes);
    // the source's own blocks stay exact and the queries are scaled in the graph instead.
    const foldScale = !useGqa && !fusedBlocks;
    const wq = foldScale ? scaled(w.get(W.layer(l, 'attn_q')), 1 / Math.sqrt(hs)) : w.get(W.layer(l, 'attn_q'));
    const qkv = linear(`${p}/attn/qkv_proj`, h, concat(wq, w.get(W.layer(l, 'attn_k')), w.get(W.layer(l, 'attn_v'))), qd + 2 * kv, s.dim, { blocks: fusedBlocks });
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
        positionIds, cosCache, sinCache, nHeads: s.nHeads, nKvHeads: s.nKvHeads, headSize: hs, qDim: qd, kvDim: kv, queryScale: foldScale ? null : 1 / Math.sqrt(hs),
      });
    }
    stream.add(linear(`${p}/attn/o_proj`, attn, w.get(W.layer(l, 'attn_output')), s.dim, qd, { blocks: blocksOf(W.layer(l, 'attn_output')) }));
    const h2 = norm(`${p}/post_attention_layernorm`, w.get(W.layer(l, 'ffn_norm')));
    const gate = linear(`${p}/mlp/gate_proj`, h2, w.get(W.layer(l, 'ffn_gate')), s.hiddenDim, s.dim, { blocks: blocksOf(W.layer(l, 'ffn_gate')) });
    const up = linear(`${p}/mlp/up_proj`, h2, w.get(W.layer(l, 'ffn_up')), s.hiddenDim, s.dim, { blocks: blocksOf(W.layer(l, 'ffn_up')) });
    // SiLU: x·σ(x). QuickGelu(alpha=1) fuses it in float32; float16 takes the plain ops every backend has.
    const act = half ? g.op('Mul', `${p}/mlp/silu`, [gate, g.op('Sigmoid', `${p}/mlp/sigmoid`, [gate])]) : g.op('QuickGelu', `${p}/mlp/silu`, [gate], { alpha: { float: 1 } }, MS);
    const gated = g.op('Mul', `${p}/mlp/gated`, [act, up]);
    stream.add(linear(`${p}/mlp/down_proj`, gated, w.get(W.layer(l, 'ffn_down')), s.dim, s.hiddenDim, { blocks: blocksOf(W.layer(l, 'ffn_down')) }));
  }
  const hf = norm('/model/norm', w.get(W.outputNorm));
  if (half) g.node('Cast', '/model/last_hidden_state', [hf], ['last_hidden_state'], { to: 1 });
  else g.node('Identity', '/model/last_hidden_state', [hf], ['last_hidden_state']);
  linearWeightBytes += lmHead(g, s, w, bits, hf, inputIds, logitsToKeep, embedding, { half, blocks: s.tiedEmbeddings ? null : blocksOf(W.output) });

  return {
    bytes: g.encode('llama', producerVersion, { '': 17, [MS]: 1 }),
    nodeCount: g.nodeCount,
    attention: useGqa ? 'GroupQueryAttention' : 'RotaryEmbedding+MatMul',
    linearWeightBytes,
    ...((kept.length > 0 || embedding.quantized) && { quantization: describe(dtype, kept, embedding.quantized !== null, 7 * s.nLayers, options.expandBlocks ?? false) }),
  };
}

function describe(dtype: WeightDtype, kept: string[], quantizedEmbedding: boolean, matrices: number, expanded: boolean): string {
  const parts = [QUANTIZATION[dtype]];
  const use = expanded ? 'expanded to float32 MatMul weights when the session is created' : 'MatMulNBits';
  for (const bits of new Set(kept)) parts.push(`${kept.filter((b) => b === bits).length} of ${matrices} layer matrices kept exactly as the source's ${bits}-bit blocks (${use})`);
  if (quantizedEmbedding) parts.push(`token embedding and tied LM head as one table of 8-bit blocks (${expanded ? 'expanded to a float32 table for Gather + Gemm' : 'GatherBlockQuantized + MatMulNBits'})`);
  return parts.join('; ');
}

/** A float initializer in `half` precision (float16) or float32. */
export function floatInitializer(g: GraphBuilder, name: string, dims: number[], v: Float32Array, half: boolean): string {
  return half ? g.initializer(name, 'float16', dims, toFloat16(v)) : g.initializer(name, 'float32', dims, v);
}

/** The graph inputs and outputs transformers.js feeds and reads for a decoder with past (KV cache in `ft`). */
export function decoderIO(g: GraphBuilder, s: DecoderSpec, options: GraphOptions, ft: 'float32' | 'float16' = 'float32') {
  const hs = s.headSize;
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const past = Array.from({ length: s.nLayers }, (_, l) => ({
    key: g.input(`past_key_values.${l}.key`, ft, ['batch_size', s.nKvHeads, 'past_sequence_length', hs]),
    value: g.input(`past_key_values.${l}.value`, ft, ['batch_size', s.nKvHeads, 'past_sequence_length', hs]),
  }));
  const logitsToKeep = options.numLogitsToKeep ? g.input('num_logits_to_keep', 'int64', []) : null;
  g.output('logits', 'float32', ['batch_size', logitsToKeep ? 'num_logits' : 'sequence_length', s.vocabSize]);
  // Final (normed) hidden states, for embeddings and trained classifiers; transformers.js ignores it.
  g.output('last_hidden_state', 'float32', ['batch_size', 'sequence_length', s.dim]);
  for (let l = 0; l < s.nLayers; l++) {
    for (const kind of ['key', 'value']) {
      g.output(`present.${l}.${kind}`, ft, ['batch_size', s.nKvHeads, 'total_sequence_length', hs]);
    }
  }
  return { inputIds, attentionMask, positionIds, past, logitsToKeep };
}

/** The token table: float (fp32, or when not asked to quantize it) or 8-bit blocks (block-embedding.ts). */
export interface TokenEmbedding {
  table: Float32Array;
  float: string | null;
  quantized: QuantizedEmbedding | null;
  lookup(ids: string): string;
}

export function tokenEmbedding(g: GraphBuilder, s: DecoderSpec, w: DecoderWeights, bits: 4 | 8 | null, options: GraphOptions, half = false): TokenEmbedding {
  const table = w.get(W.embedding);
  const quantized = options.quantizedEmbedding && bits !== null ? quantizedEmbedding(g, 'model.embed_tokens', table, s.vocabSize, s.dim, 8, w.blocks?.(W.embedding, 8) ?? null, half, options.expandBlocks) : null;
  const float = quantized ? null : floatInitializer(g, 'model.embed_tokens.weight', [s.vocabSize, s.dim], table, half);
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
export function residualStream(g: GraphBuilder, x0: string, dim: number, eps: number, half = false) {
  let residual = x0;
  let pending: string | null = null;
  const epsilon = { float: eps };
  return {
    norm(name: string, gamma: Float32Array): string {
      const weight = floatInitializer(g, `${name}.weight`, [dim], gamma, half);
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
 * (Slice from −0 keeps them all). `half`: float16 activations, cast to float32 logits. Returns the bytes of weights it adds.
 */
export function lmHead(g: GraphBuilder, s: DecoderSpec, w: DecoderWeights, bits: 4 | 8 | null, hf: string, inputIds: string, logitsToKeep: string | null, embedding: TokenEmbedding, opts: { half?: boolean; blocks?: NBitsWeight | null } = {}): number {
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
  const logitsOut = opts.half ? '/lm_head/logits_f16' : 'logits';
  let bytes: number;
  if (embedding.quantized && s.tiedEmbeddings) {
    embedding.quantized.head(headInput, logitsOut);
    bytes = embedding.quantized.bytes;
  } else {
    const weight = s.tiedEmbeddings ? embedding.table : w.get(W.output);
    bytes = linearLayer(g, '/lm_head', headInput, weight, s.vocabSize, s.dim, bits, { output: logitsOut, blocks: opts.blocks ?? null, ...(opts.half && { float16: true }) }).weightBytes;
  }
  if (opts.half) g.node('Cast', '/lm_head/to_float32', [logitsOut], ['logits'], { to: 1 });
  return bytes;
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
  /** 1/√head_size when it is not folded into Wq. */
  queryScale: number | null;
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
  const qRope = rope('q_rope', q!, a.nHeads);
  const qRot = a.queryScale === null ? qRope : g.op('Mul', `${p}/attn/q_scaled`, [qRope, g.float(a.queryScale)]);
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
