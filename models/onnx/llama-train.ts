/**
 * The Llama LoRA training graph: one example in, the masked mean cross-entropy and the gradient of every
 * adapter matrix out. onnxruntime-web has no training API and no gradient operators, so the backward pass
 * is written here by hand in ordinary opset-17 operators (no contrib ops, so WASM and WebGPU both run it).
 *
 * Inputs:  input_ids int64 [1, T]; loss_mask float32 [1, T], 1 on each token whose prediction (from the
 *          position before it) counts, 0 on prompt tokens (loss_mask[0] is ignored: nothing predicts it);
 *          every adapter matrix of `adapterLayout` (src/training/adapter.ts) by its name, float32.
 * Outputs: loss float32 [] (Σ mask·nll / Σ mask), then `grad.<name>` for every adapter matrix, same shape.
 * Frozen base weights are fp32 initializers stored [out, in] and read with Gemm (transB for the forward,
 * plain for the backward) so each is held once. Layers below the adapted ones run forward only.
 * Everything is 2-D [T, features] except attention, which is [kvHeads, group, T, ·] so that one batched
 * MatMul serves every query head of a KV group.
 *
 * The frozen layers' output does not change while the adapter trains, so it can be computed once per example
 * and reused every epoch: `buildLlamaPrefixGraph` maps input_ids [1, T] to `hidden` [T, dim] (the residual
 * stream entering the first adapted layer), and the training graph built with `frozenPrefix: 'input'` takes
 * that `hidden` as an extra input instead of running (and holding the weights of) the frozen layers.
 */
import { adapterLayout, gradName, loraName, type LoraOptions, type LoraTarget } from '../../src/training/adapter.ts';
import { kvDim, qDim, W, type DecoderModel } from '../spec.ts';
import { GraphBuilder } from './graph.ts';
import { ropeCache } from './llama.ts';

export interface TrainingGraph {
  bytes: Uint8Array;
  nodeCount: number;
}

export interface TrainingGraphOptions {
  /** 'inside' (default): the graph runs the frozen layers itself; 'input': it reads their output from `hidden`. */
  frozenPrefix?: 'inside' | 'input';
  /**
   * Declare every adapter matrix's rank as a symbolic `lora_rank.<layer>.<target>` (built with alpha = rank, so the graph's
   * scale is 1 and the caller feeds (α/r)·B): one graph serves any rank, and a matrix fed at rank 0 is off.
   */
  symbolicRank?: boolean;
}

type Part = 'all' | 'prefix' | 'suffix';

export function buildLlamaTrainingGraph(model: DecoderModel, lora: LoraOptions, producerVersion: string, options: TrainingGraphOptions = {}): TrainingGraph {
  return build(model, lora, producerVersion, options.frozenPrefix === 'input' ? 'suffix' : 'all', options.symbolicRank === true);
}

/** input_ids [1, T] → hidden [T, dim]: the frozen layers below the adapted ones, forward only. */
export function buildLlamaPrefixGraph(model: DecoderModel, lora: LoraOptions, producerVersion: string): TrainingGraph {
  return build(model, lora, producerVersion, 'prefix');
}

const INT_MAX = Number.MAX_SAFE_INTEGER;

function build(model: DecoderModel, lora: LoraOptions, producerVersion: string, part: Part, symbolicRank = false): TrainingGraph {
  const { spec: s, weights: w } = model;
  if (new Set(s.layers.map((l) => `${l.attention} ${l.ropeTheta}`)).size !== 1 || s.layers[0]!.attention !== 'global') {
    throw new Error('the llama training graph needs every layer to use global attention with one RoPE base');
  }
  const g = new GraphBuilder();
  const hs = s.headSize;
  const kv = kvDim(s);
  const qd = qDim(s);
  const group = s.nHeads / s.nKvHeads;
  if (symbolicRank && lora.alpha !== lora.rank) throw new Error("a symbolic-rank training graph is built with alpha = rank (scale 1)");
  const scale = lora.alpha / lora.rank;
  const firstTrained = s.nLayers - lora.layers;
  const layout = adapterLayout({ nLayers: s.nLayers, dim: s.dim, hiddenDim: s.hiddenDim, qDim: qd, kvDim: kv }, lora);

  const inputIds = g.input('input_ids', 'int64', [1, 'T']);
  const lossMask = part === 'prefix' ? '' : g.input('loss_mask', 'float32', [1, 'T']);
  const hiddenIn = part === 'suffix' ? g.input('hidden', 'float32', ['T', s.dim]) : null;
  if (part === 'prefix') g.output('hidden', 'float32', ['T', s.dim]);
  else {
    g.output('loss', 'float32', []);
    // One symbolic rank per projection: onnxruntime plans buffers assuming equal symbolic dims are equal.
    const rank = (m: (typeof layout)[number]): string => `lora_rank.${m.layer}.${m.target}`;
    const dims = (m: (typeof layout)[number]): Array<number | string> => (symbolicRank ? (m.which === 'A' ? [rank(m), m.cols] : [m.rows, rank(m)]) : [m.rows, m.cols]);
    for (const m of layout) g.input(m.name, 'float32', dims(m));
    for (const m of layout) g.output(gradName(m.name), 'float32', dims(m));
  }
  const adapted = new Set(part === 'prefix' ? [] : layout.map((m) => `${m.layer}.${m.target}`));

  const ids = g.op('Reshape', '/ids', [inputIds, g.int64s([-1])]);
  const seqLen = g.op('Shape', '/seq_len', [ids]);
  const embedding = part === 'prefix' || s.tiedEmbeddings || !hiddenIn ? g.initializer('embed_tokens.weight', 'float32', [s.vocabSize, s.dim], w.get(W.embedding)) : '';

  // RoPE tables for positions 0…T−1 as [T, 1, hs/2, 1], to broadcast over [T, heads, hs/2, 1] pairs.
  const { cos, sin } = ropeCache(s.contextLength, hs, s.layers[0]!.ropeTheta);
  const ropeTable = (name: string, data: Float32Array): string => {
    const table = g.initializer(`rope.${name}`, 'float32', [s.contextLength, hs / 2], data);
    const rows = g.op('Slice', `/rope/${name}_rows`, [table, g.int64s([0]), seqLen, g.int64s([0])]);
    return g.op('Reshape', `/rope/${name}_4d`, [rows, g.int64s([-1, 1, hs / 2, 1])]);
  };
  const cos4 = ropeTable('cos', cos);
  const sin4 = ropeTable('sin', sin);
  const negSin4 = g.op('Neg', '/rope/neg_sin', [sin4]);
  /** Rotates adjacent pairs of each head by the position's angle; with −sin it is the inverse (and the transpose). */
  const rope = (name: string, x: string, heads: number, sinT: string): string => {
    const pairs = g.op('Reshape', `${name}/pairs`, [x, g.int64s([-1, heads, hs / 2, 2])]);
    const [even, odd] = g.node('Split', `${name}/split`, [pairs, g.int64s([1, 1])], 2, { axis: 3 });
    const re = g.op('Sub', `${name}/re`, [g.op('Mul', `${name}/ec`, [even!, cos4]), g.op('Mul', `${name}/os`, [odd!, sinT])]);
    const ro = g.op('Add', `${name}/ro`, [g.op('Mul', `${name}/es`, [even!, sinT]), g.op('Mul', `${name}/oc`, [odd!, cos4])]);
    return g.op('Reshape', `${name}/flat`, [g.op('Concat', `${name}/join`, [re, ro], { axis: 3 }), g.int64s([-1, heads * hs])]);
  };

  // Additive causal mask [T, T]: 0 where key ≤ query, −1e9 elsewhere (exp underflows to exactly 0).
  const positions = g.op('Range', '/mask/range', [g.int64s([0], true), g.op('Squeeze', '/mask/len', [seqLen, g.int64s([0])]), g.int64s([1], true)]);
  const causal = g.op('LessOrEqual', '/mask/causal', [
    g.op('Unsqueeze', '/mask/keys', [positions, g.int64s([0])]),
    g.op('Unsqueeze', '/mask/queries', [positions, g.int64s([1])]),
  ]);
  const mask = g.op('Where', '/mask/bias', [causal, g.float(0), g.float(-1e9)]);

  interface Norm { y: string; x: string; r: string; gamma: string }
  const rmsNorm = (name: string, x: string, gammaData: Float32Array): Norm => {
    const gamma = g.initializer(`${name}.weight`, 'float32', [s.dim], gammaData);
    const ms = g.op('ReduceMean', `${name}/ms`, [g.op('Mul', `${name}/sq`, [x, x])], { axes: [-1], keepdims: 1 });
    const r = g.op('Reciprocal', `${name}/r`, [g.op('Sqrt', `${name}/rms`, [g.op('Add', `${name}/eps`, [ms, g.float(s.norm.eps)])])]);
    return { y: g.op('Mul', `${name}/y`, [g.op('Mul', `${name}/xr`, [x, r]), gamma]), x, r, gamma };
  };
  /** y = γ·x·r with r = (mean x² + ε)^−½ gives dx = r·(u − x·r²·mean(u·x)) for u = γ·dy. */
  const rmsNormBackward = (name: string, n: Norm, dy: string): string => {
    const u = g.op('Mul', `${name}/u`, [dy, n.gamma]);
    const m = g.op('ReduceMean', `${name}/mux`, [g.op('Mul', `${name}/ux`, [u, n.x])], { axes: [-1], keepdims: 1 });
    const r2m = g.op('Mul', `${name}/r2m`, [g.op('Mul', `${name}/r2`, [n.r, n.r]), m]);
    return g.op('Mul', `${name}/dx`, [g.op('Sub', `${name}/u_minus`, [u, g.op('Mul', `${name}/xr2m`, [n.x, r2m])]), n.r]);
  };

  interface Linear { x: string; weight: string; lora: { a: string; b: string; z: string; layer: number; target: LoraTarget } | null }
  const linear = (name: string, x: string, layer: number, target: LoraTarget, weightName: string, out: number, inDim: number): { y: string; lin: Linear } => {
    const weight = g.initializer(`${name}.weight`, 'float32', [out, inDim], w.get(weightName));
    const base = g.op('Gemm', `${name}/base`, [x, weight], { transB: 1 });
    if (!adapted.has(`${layer}.${target}`)) return { y: base, lin: { x, weight, lora: null } };
    const a = loraName(layer, target, 'A');
    const b = loraName(layer, target, 'B');
    const z = g.op('Gemm', `${name}/lora_down`, [x, a], { transB: 1 });
    const y = g.op('Gemm', `${name}/lora_up`, [z, b, base], { transB: 1, alpha: { float: scale } });
    return { y, lin: { x, weight, lora: { a, b, z, layer, target } } };
  };
  /**
   * dx = dy·W + s·(dy·B)·A; dB = s·dyᵀ·z; dA = (s·dy·B)ᵀ·x (written straight to the graph outputs).
   * Without `needInput` (the lowest adapted layer) dx is not built: nothing below consumes it.
   */
  function linearBackward(name: string, lin: Linear, dy: string): string;
  function linearBackward(name: string, lin: Linear, dy: string, needInput: false): null;
  function linearBackward(name: string, lin: Linear, dy: string, needInput = true): string | null {
    if (!lin.lora) return needInput ? g.op('Gemm', `${name}/dx_base`, [dy, lin.weight]) : null;
    const { a, b, z } = lin.lora;
    g.node('Gemm', `${name}/dB`, [dy, z], [gradName(b)], { transA: 1, alpha: { float: scale } });
    const dz = g.op('Gemm', `${name}/dz`, [dy, b], { alpha: { float: scale } });
    g.node('Gemm', `${name}/dA`, [dz, lin.x], [gradName(a)], { transA: 1 });
    return needInput ? g.op('Gemm', `${name}/dx`, [dz, a, g.op('Gemm', `${name}/dx_base`, [dy, lin.weight])]) : null;
  }

  /** [T, heads·hs] → [kvHeads, heads/kvHeads, T, hs] (query head h = kvHead·group + j, as in GQA). */
  const toGroups = (name: string, t: string, perKv: number): string =>
    g.op('Transpose', `${name}/t`, [g.op('Reshape', `${name}/r`, [t, g.int64s([-1, s.nKvHeads, perKv, hs])])], { perm: [1, 2, 0, 3] });
  const fromGroups = (name: string, t: string, width: number): string =>
    g.op('Reshape', `${name}/r`, [g.op('Transpose', `${name}/t`, [t], { perm: [2, 0, 1, 3] }), g.int64s([-1, width])]);

  interface LayerState {
    n1: Norm; n2: Norm;
    q: Linear; k: Linear; v: Linear; o: Linear; gate: Linear; up: Linear; down: Linear;
    q4: string; k4: string; v4: string; probs: string;
    gatePre: string; upOut: string; sig: string; act: string;
  }
  const states: LayerState[] = [];
  let x = hiddenIn ?? g.op('Gather', '/embed', [embedding, ids], { axis: 0 });
  const [from, to] = part === 'all' ? [0, s.nLayers] : part === 'prefix' ? [0, firstTrained] : [firstTrained, s.nLayers];
  for (let l = from; l < to; l++) {
    const p = `/layers.${l}`;
    const n1 = rmsNorm(`${p}/attn_norm`, x, w.get(W.layer(l, 'attn_norm')));
    const q = linear(`${p}/q`, n1.y, l, 'q', W.layer(l, 'attn_q'), qd, s.dim);
    const k = linear(`${p}/k`, n1.y, l, 'k', W.layer(l, 'attn_k'), kv, s.dim);
    const v = linear(`${p}/v`, n1.y, l, 'v', W.layer(l, 'attn_v'), kv, s.dim);
    const q4 = toGroups(`${p}/q_groups`, rope(`${p}/q_rope`, q.y, s.nHeads, sin4), group); // [KV, G, T, hs]
    const k4 = toGroups(`${p}/k_groups`, rope(`${p}/k_rope`, k.y, s.nKvHeads, sin4), 1); // [KV, 1, T, hs]
    const v4 = toGroups(`${p}/v_groups`, v.y, 1);
    const scores = g.op('MatMul', `${p}/scores`, [q4, g.op('Transpose', `${p}/k_t`, [k4], { perm: [0, 1, 3, 2] })]);
    const scaled = g.op('Add', `${p}/masked`, [g.op('Mul', `${p}/scaled`, [scores, g.float(1 / Math.sqrt(hs))]), mask]);
    const probs = g.op('Softmax', `${p}/softmax`, [scaled], { axis: -1 });
    const ctx = fromGroups(`${p}/ctx`, g.op('MatMul', `${p}/context`, [probs, v4]), qd);
    const o = linear(`${p}/o`, ctx, l, 'o', W.layer(l, 'attn_output'), s.dim, qd);
    x = g.op('Add', `${p}/residual_attn`, [x, o.y]);
    const n2 = rmsNorm(`${p}/ffn_norm`, x, w.get(W.layer(l, 'ffn_norm')));
    const gate = linear(`${p}/gate`, n2.y, l, 'gate', W.layer(l, 'ffn_gate'), s.hiddenDim, s.dim);
    const up = linear(`${p}/up`, n2.y, l, 'up', W.layer(l, 'ffn_up'), s.hiddenDim, s.dim);
    const sig = g.op('Sigmoid', `${p}/sigmoid`, [gate.y]);
    const act = g.op('Mul', `${p}/silu`, [gate.y, sig]);
    const down = linear(`${p}/down`, g.op('Mul', `${p}/gated`, [act, up.y]), l, 'down', W.layer(l, 'ffn_down'), s.dim, s.hiddenDim);
    x = g.op('Add', `${p}/residual_ffn`, [x, down.y]);
    states[l] = { n1, n2, q: q.lin, k: k.lin, v: v.lin, o: o.lin, gate: gate.lin, up: up.lin, down: down.lin, q4, k4, v4, probs, gatePre: gate.y, upOut: up.y, sig, act };
  }
  if (part === 'prefix') {
    g.node('Identity', '/hidden', [x], ['hidden']);
    return { bytes: g.encode('llama_lora_prefix', producerVersion, { '': 17 }), nodeCount: g.nodeCount };
  }
  const head = s.tiedEmbeddings ? embedding : g.initializer('lm_head.weight', 'float32', [s.vocabSize, s.dim], w.get(W.output));
  const nf = rmsNorm('/final_norm', x, w.get(W.outputNorm));

  // Cross-entropy of position t predicting token t+1, weighted by loss_mask[t+1]; the last position predicts nothing.
  const shiftLeft = (name: string, t: string, pad: string): string =>
    g.op('Concat', name, [g.op('Slice', `${name}/tail`, [t, g.int64s([1]), g.int64s([INT_MAX]), g.int64s([0])]), pad], { axis: 0 });
  const allWeights = shiftLeft('/loss/weights', g.op('Reshape', '/loss/mask_flat', [lossMask, g.int64s([-1])]), g.initializer('/loss/zero', 'float32', [1], Float32Array.of(0)));
  // Only the n positions whose prediction counts reach the LM head (prompt positions would cost a
  // [T, vocab] product forward and backward for nothing); their gradient is scattered back into [T, dim].
  const kept = g.op('NonZero', '/loss/kept', [g.op('Greater', '/loss/counts', [allWeights, g.float(0)])]); // [1, n]
  const rows = g.op('Reshape', '/loss/rows', [kept, g.int64s([-1])]);
  const targets = g.op('Gather', '/loss/targets', [shiftLeft('/loss/all_targets', ids, g.int64s([0])), rows], { axis: 0 });
  const weights = g.op('Unsqueeze', '/loss/weights_col', [g.op('Gather', '/loss/kept_weights', [allWeights, rows], { axis: 0 }), g.int64s([1])]);
  const logits = g.op('Gemm', '/lm_head', [g.op('Gather', '/lm_head/rows', [nf.y, rows], { axis: 0 }), head], { transB: 1 }); // [n, V]
  const shifted = g.op('Sub', '/loss/shifted', [logits, g.op('ReduceMax', '/loss/max', [logits], { axes: [1], keepdims: 1 })]);
  const expd = g.op('Exp', '/loss/exp', [shifted]);
  const sumExp = g.op('ReduceSum', '/loss/sum_exp', [expd, g.int64s([1])], { keepdims: 1 });
  const oneHot = g.op('OneHot', '/loss/one_hot', [targets, g.int64s([s.vocabSize], true), g.initializer('/loss/off_on', 'float32', [2], Float32Array.of(0, 1))], { axis: -1 });
  const targetLogit = g.op('ReduceSum', '/loss/target_logit', [g.op('Mul', '/loss/pick', [shifted, oneHot]), g.int64s([1])], { keepdims: 1 });
  const nll = g.op('Sub', '/loss/nll', [g.op('Log', '/loss/log_sum_exp', [sumExp]), targetLogit]); // [T, 1]
  const count = g.op('ReduceSum', '/loss/count', [weights], { keepdims: 0 });
  g.node('Div', '/loss/mean', [g.op('ReduceSum', '/loss/total', [g.op('Mul', '/loss/weighted', [nll, weights])], { keepdims: 0 }), count], ['loss']);

  // Backward. dlogits = (softmax − onehot)·w/Σw.
  const probsV = g.op('Div', '/grad/softmax', [expd, sumExp]);
  const dLogits = g.op('Mul', '/grad/logits', [g.op('Sub', '/grad/p_minus_y', [probsV, oneHot]), g.op('Div', '/grad/w_norm', [weights, count])]);
  const dKept = g.op('Gemm', '/grad/lm_head', [dLogits, head]); // [n, dim]
  const dNormed = g.op('ScatterND', '/grad/lm_head_rows', [g.op('ConstantOfShape', '/grad/zeros', [g.op('Shape', '/grad/normed_shape', [nf.y])]), g.op('Reshape', '/grad/rows_col', [kept, g.int64s([-1, 1])]), dKept]);
  let dx = rmsNormBackward('/grad/final_norm', nf, dNormed);
  for (let l = s.nLayers - 1; l >= firstTrained; l--) {
    const p = `/grad/layers.${l}`;
    const st = states[l]!;
    // SiLU-gated MLP: d silu(a)/da = σ(a)·(1 + a·(1 − σ(a))).
    const dGated = linearBackward(`${p}/down`, st.down, dx);
    const dUp = g.op('Mul', `${p}/d_up`, [dGated, st.act]);
    const dAct = g.op('Mul', `${p}/d_act`, [dGated, st.upOut]);
    const siluPrime = g.op('Mul', `${p}/silu_prime`, [st.sig, g.op('Add', `${p}/silu_1p`, [g.float(1), g.op('Mul', `${p}/a_1ms`, [st.gatePre, g.op('Sub', `${p}/1ms`, [g.float(1), st.sig])])])]);
    const dGate = g.op('Mul', `${p}/d_gate`, [dAct, siluPrime]);
    const dn2 = g.op('Add', `${p}/d_n2`, [linearBackward(`${p}/gate`, st.gate, dGate), linearBackward(`${p}/up`, st.up, dUp)]);
    dx = g.op('Add', `${p}/d_mid`, [dx, rmsNormBackward(`${p}/ffn_norm`, st.n2, dn2)]);
    // Attention: ctx = P·V, P = softmax(c·Q·Kᵀ + mask).
    const dCtx = toGroups(`${p}/d_ctx`, linearBackward(`${p}/o`, st.o, dx), group); // [KV, G, T, hs]
    const dProbs = g.op('MatMul', `${p}/d_probs`, [dCtx, g.op('Transpose', `${p}/v_t`, [st.v4], { perm: [0, 1, 3, 2] })]);
    const dV4 = g.op('ReduceSum', `${p}/d_v4`, [g.op('MatMul', `${p}/d_v_groups`, [g.op('Transpose', `${p}/p_t`, [st.probs], { perm: [0, 1, 3, 2] }), dCtx]), g.int64s([1])], { keepdims: 1 });
    const rowDot = g.op('ReduceSum', `${p}/row_dot`, [g.op('Mul', `${p}/dp_p`, [dProbs, st.probs]), g.int64s([-1])], { keepdims: 1 });
    const dScores = g.op('Mul', `${p}/d_scores`, [g.op('Mul', `${p}/d_softmax`, [st.probs, g.op('Sub', `${p}/dp_minus`, [dProbs, rowDot])]), g.float(1 / Math.sqrt(hs))]);
    const dQ4 = g.op('MatMul', `${p}/d_q4`, [dScores, st.k4]);
    const dK4 = g.op('ReduceSum', `${p}/d_k4`, [g.op('MatMul', `${p}/d_k_groups`, [g.op('Transpose', `${p}/ds_t`, [dScores], { perm: [0, 1, 3, 2] }), st.q4]), g.int64s([1])], { keepdims: 1 });
    const dQ = rope(`${p}/d_q_rope`, fromGroups(`${p}/d_q`, dQ4, qd), s.nHeads, negSin4);
    const dK = rope(`${p}/d_k_rope`, fromGroups(`${p}/d_k`, dK4, kv), s.nKvHeads, negSin4);
    const dV = fromGroups(`${p}/d_v`, dV4, kv);
    if (l === firstTrained) {
      for (const [t, lin, d] of [['q', st.q, dQ], ['k', st.k, dK], ['v', st.v, dV]] as const) linearBackward(`${p}/${t}`, lin, d, false);
      break;
    }
    const dn1 = g.op('Add', `${p}/d_n1`, [
      g.op('Add', `${p}/d_n1_qk`, [linearBackward(`${p}/q`, st.q, dQ), linearBackward(`${p}/k`, st.k, dK)]),
      linearBackward(`${p}/v`, st.v, dV),
    ]);
    dx = g.op('Add', `${p}/d_in`, [dx, rmsNormBackward(`${p}/attn_norm`, st.n1, dn1)]);
  }

  return { bytes: g.encode('llama_lora_train', producerVersion, { '': 17 }), nodeCount: g.nodeCount };
}
