/**
 * Builds the Gemma 3 decoder-with-past graph that transformers.js runs for `model_type: "gemma3_text"`,
 * with the Llama graph's inputs, outputs, token embedding and LM head (llama.ts). Per layer:
 * RMSNorm → fused QKV → RMSNorm of each Q/K head → GroupQueryAttention (its built-in RoPE in the
 * spec's pairing and the layer's own base; `local_window_size` on sliding layers) → O → post-attention
 * RMSNorm → residual; RMSNorm → gate/up → GELU-tanh(gate)·up → down → post-FFN RMSNorm → residual.
 * Gemma's activations have large outliers, so 8-bit weights go through MatMulNBits (weight-only)
 * rather than DynamicQuantizeMatMul, and the embedding / tied LM head stays 8-bit in every quantized dtype.
 * q4f16 (for WebGPU) runs the matmuls, attention, RoPE tables and KV cache in float16 but keeps the residual
 * stream and its norms in float32: Gemma 3 270M's stream reaches |x| ≈ 1.04e5 (tests/reference/gemma3.py
 * on the long prompt), beyond float16's 65,504, and an all-float16 graph gave non-finite logits everywhere.
 * transformers.js counts gemma3 position_ids from 1; GroupQueryAttention takes positions from the
 * cache length instead, and RoPE only sees differences of positions, so nothing depends on that offset.
 */
import { kvDim, qDim, W, type DecoderModel } from '../spec.ts';
import { GraphBuilder } from './graph.ts';
import { BITS, linear as linearLayer, MS, type WeightDtype } from './linear.ts';
import { concat, decoderIO, floatInitializer, gqaLengths, lmHead, residualStream, ropeCache, tokenEmbedding, type BuiltGraph, type GraphOptions } from './llama.ts';

export function buildGemma3Graph(model: DecoderModel, dtype: WeightDtype, producerVersion: string, options: GraphOptions = {}): BuiltGraph {
  const { spec: s, weights: w } = model;
  // GroupQueryAttention's CPU kernel needs head sizes that are multiples of 16 (Gemma 3: 256).
  if (s.headSize % 16 !== 0) throw new Error(`the gemma3 graph needs a head size that is a multiple of 16, not ${s.headSize}`);
  const g = new GraphBuilder();
  const hs = s.headSize;
  const bits = BITS[dtype];
  const half = dtype === 'q4f16';
  /** float16 initializers for the float16 parts of q4f16 (RoPE tables, Q/K norms, GELU constants). */
  const floats = (name: string, dims: number[], v: Float32Array): string => floatInitializer(g, name, dims, v, half);
  // Casts between the float32 residual stream and the float16 sub-layers (no-ops unless q4f16).
  const toHalf = (x: string): string => (half ? g.op('Cast', `${x}/to_half`, [x], { to: 10 }) : x);
  const toFloat = (x: string): string => (half ? g.op('Cast', `${x}/to_float`, [x], { to: 1 }) : x);
  const epsilon = { float: s.norm.eps };
  let linearWeightBytes = 0;
  /**
   * q4 follows the source's own mix (llama.cpp's Q4_K_M keeps Gemma's Q/K/V/gate/up at 5–8 bits and half
   * the down projections at 6): weights the source holds above 5 bits per value stay 8-bit, the rest go
   * 4-bit. All-4-bit flipped 28 % of teacher-forced top-1 predictions against fp32.
   */
  const bitsOf = (sources: string[]): 4 | 8 | null =>
    bits === 4 && sources.some((name) => (w.sourceBitsPerValue?.(name) ?? 32) > 5) ? 8 : bits;
  const linear = (name: string, x: string, weight: Float32Array, n: number, k: number, sources: string[]): string => {
    const { y, weightBytes } = linearLayer(g, name, x, weight, n, k, bitsOf(sources), { weightOnly8: true, ...(half && { float16: true }) });
    linearWeightBytes += weightBytes;
    return y;
  };
  /** RMSNorm over the last axis of `x` (float16 when `x16`), whose size is gamma's. */
  const rmsNorm = (name: string, x: string, gamma: Float32Array, x16 = false): string =>
    g.op('SimplifiedLayerNormalization', name, [x, floatInitializer(g, `${name}.weight`, [gamma.length], gamma, x16)], { axis: -1, epsilon });
  /** RMSNorm of each head of x [batch, seq, heads·head_size]. */
  const headNorm = (name: string, x: string, heads: number, gamma: Float32Array): string => {
    const split = g.op('Reshape', `${name}/split_heads`, [x, g.int64s([0, 0, heads, hs])]);
    return g.op('Reshape', `${name}/merge_heads`, [rmsNorm(name, split, gamma, half), g.int64s([0, 0, heads * hs])]);
  };

  /**
   * FastGelu is GELU with the tanh approximation and QuickGelu(alpha=1) is x·σ(x) = SiLU, both fused in
   * float32; float16 writes GELU-tanh out in plain ops that every backend has (x³ overflowing to ∞ still
   * gives tanh = ±1, the right limit).
   */
  const activation = (name: string, x: string): string => {
    if (s.activation !== 'gelu_tanh') return g.op('QuickGelu', `${name}/silu`, [x], { alpha: { float: 1 } }, MS);
    if (!half) return g.op('FastGelu', `${name}/gelu`, [x], {}, MS);
    const c = (n: string, v: number): string => floats(`${name}/gelu/${n}`, [], Float32Array.of(v));
    const cube = g.op('Mul', `${name}/gelu/x3`, [g.op('Mul', `${name}/gelu/x2`, [x, x]), x]);
    const inner = g.op('Mul', `${name}/gelu/inner`, [g.op('Add', `${name}/gelu/sum`, [x, g.op('Mul', `${name}/gelu/cubic`, [cube, c('a', 0.044715)])]), c('k', Math.sqrt(2 / Math.PI))]);
    const t = g.op('Add', `${name}/gelu/one_plus`, [g.op('Tanh', `${name}/gelu/tanh`, [inner]), c('one', 1)]);
    return g.op('Mul', `${name}/gelu`, [g.op('Mul', `${name}/gelu/half_x`, [x, c('half', 0.5)]), t]);
  };

  const { inputIds, attentionMask, past, logitsToKeep } = decoderIO(g, s, options, half ? 'float16' : 'float32');
  // The table is also the LM head: at 4 bits its error alone flipped 18 % of top-1 predictions, at 8 bits 1.5 %.
  const embedding = tokenEmbedding(g, s, w, bits, options, half);
  const looked = embedding.lookup(inputIds);
  const looked32 = toFloat(looked);
  const x0 = s.embeddingScale === undefined ? looked32 : g.op('Mul', '/model/embed_scale', [looked32, g.float(s.embeddingScale)]);

  // One cos/sin cache per RoPE base (the same tables serve both pairings; GQA's flag picks the pairing).
  const caches = new Map<number, { cos: string; sin: string }>();
  for (const theta of new Set(s.layers.map((l) => l.ropeTheta))) {
    const { cos, sin } = ropeCache(s.contextLength, hs, theta);
    caches.set(theta, {
      cos: floats(`rope.${theta}.cos_cache`, [s.contextLength, hs / 2], cos),
      sin: floats(`rope.${theta}.sin_cache`, [s.contextLength, hs / 2], sin),
    });
  }
  const { seqlensK, totalLength } = gqaLengths(g, attentionMask);
  const stream = residualStream(g, x0, s.dim, s.norm.eps);
  const qd = qDim(s);
  const kv = kvDim(s);

  for (let l = 0; l < s.nLayers; l++) {
    const p = `/model/layers.${l}`;
    const layer = s.layers[l]!;
    const h = toHalf(stream.norm(`${p}/input_layernorm`, w.get(W.layer(l, 'attn_norm'))));
    const qkvNames = [W.layer(l, 'attn_q'), W.layer(l, 'attn_k'), W.layer(l, 'attn_v')];
    const qkv = linear(`${p}/attn/qkv_proj`, h, concat(...qkvNames.map((n) => w.get(n))), qd + 2 * kv, s.dim, qkvNames);
    let [q, k, v] = g.node('Split', `${p}/attn/split`, [qkv, g.int64s([qd, kv, kv])], 3, { axis: -1 }) as [string, string, string];
    if (s.qkNorm) {
      q = headNorm(`${p}/attn/q_norm`, q, s.nHeads, w.get(W.layer(l, 'attn_q_norm')));
      k = headNorm(`${p}/attn/k_norm`, k, s.nKvHeads, w.get(W.layer(l, 'attn_k_norm')));
    }
    const rope = caches.get(layer.ropeTheta)!;
    const attn = g.node(
      'GroupQueryAttention',
      `${p}/attn/gqa`,
      [q, k, v, past[l]!.key, past[l]!.value, seqlensK, totalLength, rope.cos, rope.sin],
      [`${p}/attn/gqa/out`, `present.${l}.key`, `present.${l}.value`],
      {
        num_heads: s.nHeads,
        kv_num_heads: s.nKvHeads,
        do_rotary: 1,
        rotary_interleaved: s.rope === 'halves' ? 0 : 1,
        scale: { float: s.attentionScale ?? 1 / Math.sqrt(hs) },
        // A query sees local_window_size keys, itself included (tests/models/sliding-window.test.ts).
        ...(layer.attention === 'sliding' && { local_window_size: layer.window! }),
      },
      MS,
    )[0]!;
    const o = linear(`${p}/attn/o_proj`, attn, w.get(W.layer(l, 'attn_output')), s.dim, qd, [W.layer(l, 'attn_output')]);
    stream.add(s.postNorms ? rmsNorm(`${p}/post_attention_layernorm`, toFloat(o), w.get(W.layer(l, 'post_attention_norm'))) : toFloat(o));
    const h2 = toHalf(stream.norm(`${p}/pre_feedforward_layernorm`, w.get(W.layer(l, 'ffn_norm'))));
    const gate = linear(`${p}/mlp/gate_proj`, h2, w.get(W.layer(l, 'ffn_gate')), s.hiddenDim, s.dim, [W.layer(l, 'ffn_gate')]);
    const up = linear(`${p}/mlp/up_proj`, h2, w.get(W.layer(l, 'ffn_up')), s.hiddenDim, s.dim, [W.layer(l, 'ffn_up')]);
    const act = activation(`${p}/mlp`, gate);
    const down = linear(`${p}/mlp/down_proj`, g.op('Mul', `${p}/mlp/gated`, [act, up]), w.get(W.layer(l, 'ffn_down')), s.dim, s.hiddenDim, [W.layer(l, 'ffn_down')]);
    stream.add(s.postNorms ? rmsNorm(`${p}/post_feedforward_layernorm`, toFloat(down), w.get(W.layer(l, 'post_ffw_norm'))) : toFloat(down));
  }
  const hf = stream.norm('/model/norm', w.get(W.outputNorm));
  g.node('Identity', '/model/last_hidden_state', [hf], ['last_hidden_state']);
  linearWeightBytes += lmHead(g, s, w, bits, toHalf(hf), inputIds, logitsToKeep, embedding, { half });

  return {
    bytes: g.encode('gemma3', producerVersion, { '': 17, [MS]: 1 }),
    nodeCount: g.nodeCount,
    attention: 'GroupQueryAttention',
    linearWeightBytes,
  };
}
