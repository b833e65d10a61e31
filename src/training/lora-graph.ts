/**
 * Adds LoRA inputs to a converted Llama decoder graph at load time, so that one ONNX session serves the
 * base model and any number of adapters: every projection y = x·W gets y + (x·Aᵀ)·Bᵀ with Aᵀ and Bᵀ fed
 * per call. With no adapter the engine feeds rank-1 zeros, which cost two thin MatMuls and an Add per
 * projection (`npm run bench -- --only fine-tune` measures decode with ÷ without an adapter).
 *
 * Why at load time and not in the converter: stock transformers.js feeds exactly the inputs a graph
 * declares, so the files on disk keep the transformers.js signature; and onnxruntime-web refuses to feed
 * inputs that also have an initializer (ONNX's optional inputs), so the inputs must be real ones.
 *
 * The rewrite works on the protobuf wire format: it re-encodes only the few nodes it changes and appends
 * nodes and inputs to the graph, copying the initializers as bytes, without decoding them. The runtime
 * gives it the graph whose weights are external data (backends/external-data.ts), so no copy of the
 * file's weights is made (a whole file given to it is copied, three times over, while it runs).
 *
 * Inputs per layer l and projection p (qkv, o, gate, up, down): `lora.{l}.{p}.A` float32 [in, rank] (Aᵀ)
 * and `lora.{l}.{p}.B` float32 [rank, out] ((α/r)·Bᵀ). The qkv projection is fused in the graph: its A
 * stacks the q, k and v adapters' A and its B is block-diagonal (see lora-feeds.ts).
 * One output is added too: `lora_prefix_hidden`, the residual stream entering the first trainable layer,
 * which fine-tuning reads instead of running the frozen layers a second time.
 */

import type { ModelConfig } from '../engine/load/fetch-files.ts';
import { concatChunks as concat } from '../storage/download.ts';
import { fields, lengthDelimited, varint, WIRE_VARINT } from '../util/protobuf.ts';
import { LORA_PREFIX_OUTPUT, targetShape, trainableLayers, type AdapterShape } from './adapter.ts';

/** The fused projections of a layer that take an adapter, as the converter names them. */
export const LORA_SLOTS = ['qkv', 'o', 'gate', 'up', 'down'] as const;
export type LoraSlot = (typeof LORA_SLOTS)[number];

const NODE_NAME = /^\/model\/layers\.(\d+)\/(attn\/qkv_proj|attn\/o_proj|mlp\/gate_proj|mlp\/up_proj|mlp\/down_proj)$/;
const SLOT_OF: Record<string, LoraSlot> = { 'attn/qkv_proj': 'qkv', 'attn/o_proj': 'o', 'mlp/gate_proj': 'gate', 'mlp/up_proj': 'up', 'mlp/down_proj': 'down' };

export const loraInputName = (layer: number, slot: LoraSlot, which: 'A' | 'B'): string => `lora.${layer}.${slot}.${which}`;

export interface LoraGraphShape extends AdapterShape {
  headDim: number;
}

/** config.json fields the LoRA shape comes from. */
export type LlamaConfig = Pick<ModelConfig, 'model_type' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads' | 'hidden_size' | 'intermediate_size' | 'head_dim'>;

/** The LoRA shape of a Llama config.json; null for other architectures (their graphs get no LoRA inputs). */
export function loraGraphShape(c: LlamaConfig): LoraGraphShape | null {
  if (c.model_type !== 'llama' || !c.num_attention_heads || !c.hidden_size || !c.intermediate_size || !c.num_hidden_layers) return null;
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  return {
    nLayers: c.num_hidden_layers,
    dim: c.hidden_size,
    hiddenDim: c.intermediate_size,
    qDim: c.num_attention_heads * headDim,
    kvDim: (c.num_key_value_heads ?? c.num_attention_heads) * headDim,
    headDim,
  };
}

/** [in, out] of each fused projection. */
export function slotShape(s: AdapterShape, slot: LoraSlot): { in: number; out: number } {
  return slot === 'qkv' ? { in: s.dim, out: s.qDim + 2 * s.kvDim } : targetShape(s, slot);
}

/**
 * The graph with LoRA inputs, or null when it has none of the projections it knows (a graph from another
 * converter) or runs in float16 (q4f16: the adapter would need float16 inputs).
 */
export function withLoraInputs(model: Uint8Array, shape: LoraGraphShape): Uint8Array | null {
  const top = [...fields(model)];
  const graphField = top.find((f) => f.number === 7 && f.wire === 2);
  if (!graphField) return null;
  const graph = model.subarray(graphField.value, graphField.end);
  const parts = [...fields(graph)];
  const nodes = parts.filter((f) => f.number === 1);
  const all = nodes.map((f) => readNode(graph.subarray(f.value, f.end)));
  const ops = new Set(all.map((n) => n.opType));
  const names = new Set(all.map((n) => n.name));
  if (names.has('/lm_head/to_float32')) return null; // q4f16: float16 activations, cast to float32 logits
  // Without GroupQueryAttention the converter folds 1/√head_size into Wq (so the q part of the delta gets it
  // too), unless Wq keeps its source's quantized blocks: then a `…/attn/q_scaled` node scales the queries.
  const scaledInGraph = ops.has('GroupQueryAttention') || [...names].some((n) => n.endsWith('/attn/q_scaled'));
  const qScale = scaledInGraph ? 1 : 1 / Math.sqrt(shape.headDim);

  const extra: Uint8Array[] = [];
  const changed = new Map<number, Uint8Array>();
  let found = 0;
  for (const f of nodes) {
    const node = readNode(graph.subarray(f.value, f.end));
    const m = NODE_NAME.exec(node.name);
    if (!m) continue;
    found++;
    const layer = Number(m[1]);
    const slot = SLOT_OF[m[2]!]!;
    const y = node.outputs[0]!;
    const base = `${node.name}/lora_base`;
    changed.set(f.value, renameOutput(graph.subarray(f.value, f.end), y, base));
    const a = loraInputName(layer, slot, 'A');
    const b = loraInputName(layer, slot, 'B');
    const z = `${node.name}/lora_z`;
    let delta = `${node.name}/lora_delta`;
    extra.push(field(1, encodeNode('MatMul', `${node.name}/lora_down`, [node.inputs[0]!, a], [z])));
    extra.push(field(1, encodeNode('MatMul', `${node.name}/lora_up`, [z, b], [delta])));
    if (slot === 'qkv' && qScale !== 1) {
      const scaled = `${node.name}/lora_delta_scaled`;
      extra.push(field(1, encodeNode('Mul', `${node.name}/lora_q_scale`, [delta, qScaleName(node.name)], [scaled])));
      extra.push(field(5, encodeScaleRow(qScaleName(node.name), shape, qScale)));
      delta = scaled;
    }
    extra.push(field(1, encodeNode('Add', `${node.name}/lora_add`, [base, delta], [y])));
    const io = slotShape(shape, slot);
    // A rank of its own per projection: onnxruntime plans buffers assuming equal symbolic dims are equal.
    const rank = `lora_rank.${layer}.${slot}`;
    extra.push(field(11, encodeInput(a, [io.in, rank])));
    extra.push(field(11, encodeInput(b, [rank, io.out])));
  }
  if (found === 0) return null;
  // The residual stream entering the first trainable layer: what the training graph takes as `hidden`.
  const first = shape.nLayers - trainableLayers(shape.nLayers);
  const norm = all.find((n) => n.name === `/model/layers.${first}/input_layernorm`);
  const hidden = first === 0 ? norm?.inputs[0] : norm?.outputs[3];
  if (!hidden) return null;
  extra.push(field(1, encodeNode('Identity', '/lora/prefix_hidden', [hidden], [LORA_PREFIX_OUTPUT])));
  extra.push(field(12, encodeInput(LORA_PREFIX_OUTPUT, ['batch_size', 'sequence_length', shape.dim])));

  const graphParts: Uint8Array[] = [];
  for (const f of parts) graphParts.push(changed.has(f.value) ? field(1, changed.get(f.value)!) : graph.subarray(f.start, f.end));
  const newGraph = concat([...graphParts, ...extra]);
  const out: Uint8Array[] = [];
  for (const f of top) out.push(f === graphField ? field(7, newGraph) : model.subarray(f.start, f.end));
  return concat(out);
}

const qScaleName = (node: string): string => `${node}/lora_q_scale_row`;

/** The fused qkv output's per-column scale: `scale` on the q columns, 1 on the k and v ones. */
function encodeScaleRow(name: string, shape: LoraGraphShape, scale: number): Uint8Array {
  const row = new Float32Array(shape.qDim + 2 * shape.kvDim).fill(1);
  row.fill(scale, 0, shape.qDim);
  return encodeTensor(name, [row.length], row);
}

// ---- protobuf wire format ------------------------------------------------------------------------

/** A length-delimited field. */
function field(n: number, payload: Uint8Array): Uint8Array {
  return concat(lengthDelimited(n, payload));
}

const text = (n: number, s: string): Uint8Array => field(n, new TextEncoder().encode(s));
const varintField = (n: number, v: number): Uint8Array => concat([varint(n * 8 + WIRE_VARINT), varint(v)]);

interface NodeInfo {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
}

/** NodeProto: input = 1, output = 2, name = 3, op_type = 4. */
function readNode(buf: Uint8Array): NodeInfo {
  const node: NodeInfo = { name: '', opType: '', inputs: [], outputs: [] };
  const decoder = new TextDecoder();
  for (const f of fields(buf)) {
    const s = (): string => decoder.decode(buf.subarray(f.value, f.end));
    if (f.number === 1) node.inputs.push(s());
    else if (f.number === 2) node.outputs.push(s());
    else if (f.number === 3) node.name = s();
    else if (f.number === 4) node.opType = s();
  }
  return node;
}

/** The node with its output `from` renamed `to`; every other field kept as it is. */
function renameOutput(buf: Uint8Array, from: string, to: string): Uint8Array {
  const decoder = new TextDecoder();
  return concat([...fields(buf)].map((f) => (f.number === 2 && decoder.decode(buf.subarray(f.value, f.end)) === from ? text(2, to) : buf.subarray(f.start, f.end))));
}

function encodeNode(opType: string, name: string, inputs: string[], outputs: string[]): Uint8Array {
  return concat([...inputs.map((i) => text(1, i)), ...outputs.map((o) => text(2, o)), text(3, name), text(4, opType)]);
}

/** ValueInfoProto of a float32 input or output: name = 1, type = 2 → tensor_type = 1 → elem_type = 1, shape = 2 → dim = 1 → dim_value = 1 | dim_param = 2. */
function encodeInput(name: string, dims: Array<number | string>): Uint8Array {
  const shape = concat(dims.map((d) => field(1, typeof d === 'number' ? varintField(1, d) : text(2, d))));
  return concat([text(1, name), field(2, field(1, concat([varintField(1, 1), field(2, shape)])))]);
}

/** TensorProto: dims = 1, data_type = 2 (1 = float), name = 8, raw_data = 9. */
function encodeTensor(name: string, dims: number[], data: Float32Array): Uint8Array {
  return concat([...dims.map((d) => varintField(1, d)), varintField(2, 1), text(8, name), field(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))]);
}
