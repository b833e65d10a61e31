/**
 * Builds the Gemma 3 decoder-with-past graph that transformers.js runs for `model_type: "gemma3_text"`,
 * with the Llama graph's inputs, outputs, token embedding and LM head (llama.ts). Per layer:
 * RMSNorm → fused QKV → RMSNorm of each Q/K head → GroupQueryAttention (its built-in RoPE in the
 * spec's pairing and the layer's own base; `local_window_size` on sliding layers) → O → post-attention
 * RMSNorm → residual; RMSNorm → gate/up → GELU-tanh(gate)·up → down → post-FFN RMSNorm → residual.
 * Gemma's activations have large outliers, so 8-bit weights go through MatMulNBits (weight-only)
 * rather than DynamicQuantizeMatMul, and the embedding / tied LM head stays 8-bit in every quantized dtype.
 * transformers.js counts gemma3 position_ids from 1; GroupQueryAttention takes positions from the
 * cache length instead, and RoPE only sees differences of positions, so nothing depends on that offset.
 */
import { kvDim, qDim, W, type DecoderModel } from '../spec.ts';
import { GraphBuilder } from './graph.ts';
import { BITS, linear as linearLayer, MS, type WeightDtype } from './linear.ts';
import { concat, decoderIO, gqaLengths, lmHead, residualStream, ropeCache, tokenEmbedding, type BuiltGraph, type GraphOptions } from './llama.ts';

export function buildGemma3Graph(model: DecoderModel, dtype: WeightDtype, producerVersion: string, options: GraphOptions = {}): BuiltGraph {
  const { spec: s, weights: w } = model;
  // GroupQueryAttention's CPU kernel needs head sizes that are multiples of 16 (Gemma 3: 256).
  if (s.headSize % 16 !== 0) throw new Error(`the gemma3 graph needs a head size that is a multiple of 16, not ${s.headSize}`);
  const g = new GraphBuilder();
  const hs = s.headSize;
  const bits = BITS[dtype];
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
    const { y, weightBytes } = linearLayer(g, name, x, weight, n, k, bitsOf(sources), { weightOnly8: true });
    linearWeightBytes += weightBytes;
    return y;
  };
  /** RMSNorm over the last axis of `x`, whose size is gamma's. */
  const rmsNorm = (name: string, x: string, gamma: Float32Array): string =>
    g.op('SimplifiedLayerNormalization', name, [x, g.initializer(`${name}.weight`, 'float32', [gamma.length], gamma)], { axis: -1, epsilon });
  /** RMSNorm of each head of x [batch, seq, heads·head_size]. */
  const headNorm = (name: string, x: string, heads: number, gamma: Float32Array): string => {
    const split = g.op('Reshape', `${name}/split_heads`, [x, g.int64s([0, 0, heads, hs])]);
    return g.op('Reshape', `${name}/merge_heads`, [rmsNorm(name, split, gamma), g.int64s([0, 0, heads * hs])]);
  };

  const { inputIds, attentionMask, past, logitsToKeep } = decoderIO(g, s, options);
  // The table is also the LM head: at 4 bits its error alone flipped 18 % of top-1 predictions, at 8 bits 1.5 %.
  const embedding = tokenEmbedding(g, s, w, bits, options);
  const looked = embedding.lookup(inputIds);
  const x0 = s.embeddingScale === undefined ? looked : g.op('Mul', '/model/embed_scale', [looked, g.float(s.embeddingScale)]);

  // One cos/sin cache per RoPE base (the same tables serve both pairings; GQA's flag picks the pairing).
  const caches = new Map<number, { cos: string; sin: string }>();
  for (const theta of new Set(s.layers.map((l) => l.ropeTheta))) {
    const { cos, sin } = ropeCache(s.contextLength, hs, theta);
    caches.set(theta, {
      cos: g.initializer(`rope.${theta}.cos_cache`, 'float32', [s.contextLength, hs / 2], cos),
      sin: g.initializer(`rope.${theta}.sin_cache`, 'float32', [s.contextLength, hs / 2], sin),
    });
  }
  const { seqlensK, totalLength } = gqaLengths(g, attentionMask);
  const stream = residualStream(g, x0, s.dim, s.norm.eps);
  const qd = qDim(s);
  const kv = kvDim(s);

  for (let l = 0; l < s.nLayers; l++) {
    const p = `/model/layers.${l}`;
    const layer = s.layers[l]!;
    const h = stream.norm(`${p}/input_layernorm`, w.get(W.layer(l, 'attn_norm')));
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
    stream.add(s.postNorms ? rmsNorm(`${p}/post_attention_layernorm`, o, w.get(W.layer(l, 'post_attention_norm'))) : o);
    const h2 = stream.norm(`${p}/pre_feedforward_layernorm`, w.get(W.layer(l, 'ffn_norm')));
    const gate = linear(`${p}/mlp/gate_proj`, h2, w.get(W.layer(l, 'ffn_gate')), s.hiddenDim, s.dim, [W.layer(l, 'ffn_gate')]);
    const up = linear(`${p}/mlp/up_proj`, h2, w.get(W.layer(l, 'ffn_up')), s.hiddenDim, s.dim, [W.layer(l, 'ffn_up')]);
    // FastGelu is GELU with the tanh approximation; QuickGelu(alpha=1) is x·σ(x) = SiLU.
    const act = s.activation === 'gelu_tanh' ? g.op('FastGelu', `${p}/mlp/gelu`, [gate], {}, MS) : g.op('QuickGelu', `${p}/mlp/silu`, [gate], { alpha: { float: 1 } }, MS);
    const down = linear(`${p}/mlp/down_proj`, g.op('Mul', `${p}/mlp/gated`, [act, up]), w.get(W.layer(l, 'ffn_down')), s.dim, s.hiddenDim, [W.layer(l, 'ffn_down')]);
    stream.add(s.postNorms ? rmsNorm(`${p}/post_feedforward_layernorm`, down, w.get(W.layer(l, 'post_ffw_norm'))) : down);
  }
  const hf = stream.norm('/model/norm', w.get(W.outputNorm));
  g.node('Identity', '/model/last_hidden_state', [hf], ['last_hidden_state']);
  linearWeightBytes += lmHead(g, s, w, bits, hf, inputIds, logitsToKeep, embedding);

  return {
    bytes: g.encode('gemma3', producerVersion, { '': 17, [MS]: 1 }),
    nodeCount: g.nodeCount,
    attention: 'GroupQueryAttention',
    linearWeightBytes,
  };
}
