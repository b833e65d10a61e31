/**
 * Sequences through a decoder-with-past ONNX graph (the transformers.js signature): feeds ids, keeps
 * the KV cache from one step to the next (on the GPU for WebGPU), and returns the logits of the last
 * position(s). Finished sequences stay cached (a small LRU bounded in count and bytes), so a prompt that
 * starts with one of them — the next chat turn, a skill's fixed instructions — computes only what is new.
 */
import { InvalidModelFileError } from '../../errors.ts';
import type { KvCacheLimits } from '../../types.ts';
import { LORA_PREFIX_OUTPUT, type AdapterShape } from '../../training/adapter.ts';
import type { LoraFeed } from '../../training/lora-feeds.ts';
import type { ExecutionBackend, InferenceSession, Tensor, TensorType } from '../backends/types.ts';

export interface DecoderShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
}

export const DEFAULT_KV_CACHE: KvCacheLimits = { maxSequences: 4, maxBytes: 128 * 2 ** 20 };

/**
 * The most ids one WebGPU run takes. onnxruntime-web 1.30's WebGPU kernels gave SmolLM2 (grouped-query
 * attention, 4-bit MatMulNBits) wrong logits from the 5th position on when a run held 32 ids (up to 13
 * apart from WASM's, greedy tokens changed), and exact ones with 16, 17 or 24 ids per run (SwiftShader);
 * longer prompts therefore go in pieces, each extending the KV cache of the one before.
 */
export const WEBGPU_MAX_RUN = 16;

/** Token ids whose keys and values are in `past`, computed with `adapter` (null: the base model). */
interface Sequence {
  adapter: string | null;
  ids: number[];
  past: Record<string, Tensor>;
}

type KvData = Float32Array | Uint16Array;

export class Decoder {
  /** Most recent first; `sequences[0]` is the one being extended. */
  private sequences: Sequence[] = [];
  private readonly ones: BigInt64Array;
  private readonly positions: BigInt64Array;
  private readonly hasPositionIds: boolean;
  /** Graphs with a num_logits_to_keep input compute the LM head only for the rows asked for. */
  private readonly hasLogitsToKeep: boolean;
  /** Every past_key_values input with the present output that feeds it next step, its type and empty shape, as the graph declares them. */
  private readonly kv: KvInput[];
  /** What a generation step reads back: every output copied out of ORT's heap costs time per token. */
  private readonly stepOutputs: string[];
  /** KV bytes one token takes in every layer. */
  private readonly bytesPerToken: number;
  /** The graph's LoRA inputs (lora-graph.ts) as zeros: what every run feeds when no adapter is in use. */
  private readonly noAdapter: Record<string, Tensor>;
  private adapter: { name: string | null; feeds: Record<string, Tensor> };

  constructor(
    readonly backend: ExecutionBackend,
    private readonly session: InferenceSession,
    readonly shape: DecoderShape,
    readonly cacheLimits: KvCacheLimits = DEFAULT_KV_CACHE,
  ) {
    const inputs = new Set(session.inputNames);
    for (const name of ['input_ids', 'attention_mask', 'past_key_values.0.key']) {
      if (!inputs.has(name)) throw new InvalidModelFileError(`the ONNX graph has no input "${name}"; it is not a decoder-with-past model`);
    }
    const pastLayers = session.inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n)).length;
    if (pastLayers !== shape.layers) {
      throw new InvalidModelFileError(`config.json says ${shape.layers} layers but the ONNX graph has ${pastLayers} past_key_values inputs`);
    }
    this.hasPositionIds = inputs.has('position_ids');
    this.hasLogitsToKeep = inputs.has('num_logits_to_keep');
    this.kv = session.inputNames.filter((n) => n.startsWith('past_key_values.')).map((name) => kvInput(session, name, shape));
    this.bytesPerToken = this.kv.reduce((n, { type, dims }) => n + dims[1]! * dims[3]! * (type === 'float16' ? 2 : 4), 0);
    this.stepOutputs = session.outputNames.filter((n) => n === 'logits' || n.startsWith('present.'));
    this.noAdapter = Object.fromEntries(session.inputNames.filter((n) => n.startsWith('lora.')).map((name) => [name, emptyLoraInput(session, name, backend)]));
    this.adapter = { name: null, feeds: this.noAdapter };
    this.ones = new BigInt64Array(shape.contextLength).fill(1n);
    this.positions = BigInt64Array.from({ length: shape.contextLength }, (_, i) => BigInt(i));
    this.reset();
  }

  /** Tokens in the KV cache of the current sequence. */
  get position(): number {
    return this.current.ids.length;
  }

  /** Token ids of every cached sequence, most recent first (for tests and diagnostics). */
  get cachedSequences(): number[][] {
    return this.sequences.map((s) => [...s.ids]);
  }

  /** KV bytes held by every cached sequence together. */
  get cachedBytes(): number {
    return this.sequences.reduce((n, s) => n + s.ids.length * this.bytesPerToken, 0);
  }

  /** Whether the graph takes LoRA inputs (withLoraInputs added them at load). */
  get acceptsAdapters(): boolean {
    return Object.keys(this.noAdapter).length > 0;
  }

  /**
   * The adapter shapes the graph's LoRA inputs imply (null without them): model width from the qkv
   * input, the FFN width from the gate output, queries = qkv width − 2 × KV width.
   */
  get adapterShape(): AdapterShape | null {
    const dims = (name: string): number[] => this.noAdapter[name]?.dims as number[];
    if (!this.acceptsAdapters) return null;
    const kvDim = this.shape.kvHeads * this.shape.headDim;
    return { nLayers: this.shape.layers, dim: dims('lora.0.qkv.A')[0]!, hiddenDim: dims('lora.0.gate.B')[1]!, qDim: dims('lora.0.qkv.B')[1]! - 2 * kvDim, kvDim };
  }

  /** The adapter in use, by name. */
  get adapterName(): string | null {
    return this.adapter.name;
  }

  /**
   * Runs later calls with the adapter `name` (its LoRA inputs `feeds`), or the base model (null). Cached
   * sequences are kept per adapter: a prompt reuses only KV computed with the same one.
   */
  useAdapter(name: string | null, feeds: Map<string, LoraFeed> = new Map()): void {
    if (name !== null && !this.acceptsAdapters) throw new Error('this graph takes no LoRA inputs');
    const { Tensor } = this.backend.ort;
    const given = Object.fromEntries([...feeds].map(([n, f]) => [n, new Tensor('float32', f.data, f.dims)]));
    this.adapter = { name, feeds: { ...this.noAdapter, ...given } };
    if (this.current?.adapter !== name) this.reset();
  }

  /** Drops the sequences cached with adapter `name` (its weights changed, or it is gone). */
  forgetAdapter(name: string): void {
    for (const s of this.sequences.filter((q) => q.adapter === name)) dispose(s.past);
    this.sequences = this.sequences.filter((q) => q.adapter !== name);
    this.reset();
  }

  /** Starts a new, empty current sequence; earlier ones stay cached. */
  reset(): void {
    const current = this.sequences[0];
    if (current?.ids.length === 0 && current.adapter === this.adapter.name) return;
    this.sequences.unshift({ adapter: this.adapter.name, ids: [], past: this.emptyPast() });
    this.evict();
  }

  /** Drops every cached sequence. */
  clearCache(): void {
    for (const s of this.sequences) dispose(s.past);
    this.sequences = [];
    this.reset();
  }

  /**
   * Makes `ids` the current sequence and returns the logits of its last id. The cached sequence sharing
   * the longest prefix with `ids` is reused: extended in place when all of it is a prefix, else copied up
   * to the shared part (the original stays cached). At least the last id is always computed.
   */
  async prefill(ids: number[]): Promise<{ logits: Float32Array; reused: number }> {
    if (this.cacheLimits.maxSequences === 0) this.clearCache();
    let best: Sequence | null = null;
    let shared = 0;
    for (const s of this.sequences) {
      if (s.adapter !== this.adapter.name) continue;
      const n = commonPrefix(s.ids, ids, ids.length - 1);
      if (n > shared) (best = s), (shared = n);
    }
    if (!best) this.reset();
    else if (shared === best.ids.length) this.sequences = [best, ...this.sequences.filter((s) => s !== best)];
    else this.sequences.unshift({ adapter: best.adapter, ids: best.ids.slice(0, shared), past: await this.truncated(best.past, shared) });
    this.evict();
    return { logits: await this.step(ids.slice(shared)), reused: shared };
  }

  /** Runs `ids` after the tokens already in the current sequence; returns the logits of the last `rows` ids, row after row. */
  async step(ids: ArrayLike<number>, rows = 1): Promise<Float32Array> {
    const most = this.backend.name === 'webgpu' ? Math.max(WEBGPU_MAX_RUN, rows) : Infinity;
    if (ids.length > most) {
      const all = Array.from(ids);
      await this.step(all.slice(0, -most));
      return this.step(all.slice(-most), rows);
    }
    const { Tensor } = this.backend.ort;
    const seq = this.current;
    const n = ids.length;
    const start = seq.ids.length;
    const total = start + n;
    const feeds: Record<string, Tensor> = {
      ...this.adapter.feeds,
      ...seq.past,
      input_ids: new Tensor('int64', BigInt64Array.from(ids as ArrayLike<number>, (v) => BigInt(v)), [1, n]),
      attention_mask: new Tensor('int64', this.ones.subarray(0, total), [1, total]),
    };
    if (this.hasPositionIds) feeds.position_ids = new Tensor('int64', this.positions.subarray(start, total), [1, n]);
    if (this.hasLogitsToKeep) feeds.num_logits_to_keep = new Tensor('int64', BigInt64Array.of(BigInt(rows)), []);
    const out = await this.session.run(feeds, this.stepOutputs);
    // The cache changes only once the run succeeded, so a failed or aborted call leaves it consistent.
    dispose(seq.past);
    seq.past = {};
    for (const { name, present } of this.kv) seq.past[name] = out[present]!;
    for (let i = 0; i < n; i++) seq.ids.push(ids[i]!);
    this.evict();
    const data = out.logits!.data as Float32Array;
    const v = this.shape.vocabSize;
    return data.subarray(data.length - rows * v);
  }

  /** Drops the current sequence's cache entries from position `length` on (drafted tokens the generation did not take). CPU caches only. */
  truncate(length: number): void {
    const seq = this.current;
    if (length >= seq.ids.length) return;
    for (const t of Object.values(seq.past)) {
      if (t.location !== 'cpu') throw new Error(`truncate needs the KV cache in CPU memory; it is in ${t.location}`);
    }
    const kept: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(seq.past)) kept[name] = this.firstPositions(t, t.data as KvData, length);
    seq.past = kept;
    seq.ids.length = length;
  }

  /** Whether the graph also returns the final hidden states (our exported models do). */
  get hasHiddenStates(): boolean {
    return this.session.outputNames.includes('last_hidden_state');
  }

  /**
   * Runs `ids` as a sequence of its own and returns the logits of every position (and the final hidden
   * states when the graph exports them): for scoring and embeddings rather than generation. The cached
   * sequences are left as they are.
   */
  async forward(ids: number[]): Promise<{ logits: Float32Array; hidden: Float32Array | null }> {
    const { Tensor } = this.backend.ort;
    const n = ids.length;
    const feeds: Record<string, Tensor> = {
      ...this.adapter.feeds,
      ...this.emptyPast(),
      input_ids: new Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, n]),
      attention_mask: new Tensor('int64', this.ones.subarray(0, n), [1, n]),
    };
    if (this.hasPositionIds) feeds.position_ids = new Tensor('int64', this.positions.subarray(0, n), [1, n]);
    // 0 keeps every position's logits.
    if (this.hasLogitsToKeep) feeds.num_logits_to_keep = new Tensor('int64', BigInt64Array.of(0n), []);
    const out = await this.session.run(feeds);
    for (const [name, t] of Object.entries(out)) if (name.startsWith('present')) t.dispose();
    return { logits: out.logits!.data as Float32Array, hidden: (out.last_hidden_state?.data as Float32Array | undefined) ?? null };
  }

  /**
   * The residual stream entering the first trainable layer for `ids` ([T, dim]), computed by the base model
   * as a sequence of its own: the frozen layers' output that fine-tuning feeds the training graph.
   */
  async prefixHidden(ids: number[]): Promise<Tensor> {
    const { Tensor } = this.backend.ort;
    const n = ids.length;
    const feeds: Record<string, Tensor> = {
      ...this.noAdapter,
      ...this.emptyPast(),
      input_ids: new Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, n]),
      attention_mask: new Tensor('int64', this.ones.subarray(0, n), [1, n]),
    };
    if (this.hasPositionIds) feeds.position_ids = new Tensor('int64', this.positions.subarray(0, n), [1, n]);
    if (this.hasLogitsToKeep) feeds.num_logits_to_keep = new Tensor('int64', BigInt64Array.of(1n), []);
    const out = (await this.session.run(feeds, [LORA_PREFIX_OUTPUT]))[LORA_PREFIX_OUTPUT]!;
    const data = (out.location === 'cpu' ? out.data : await out.getData()) as Float32Array;
    return new Tensor('float32', data, [n, data.length / n]);
  }

  async release(): Promise<void> {
    for (const s of this.sequences) dispose(s.past);
    this.sequences = [];
    await this.session.release();
  }

  private get current(): Sequence {
    return this.sequences[0]!;
  }

  private emptyPast(): Record<string, Tensor> {
    const { Tensor } = this.backend.ort;
    const past: Record<string, Tensor> = {};
    for (const { name, type, dims } of this.kv) past[name] = new Tensor(type as 'float32', emptyData(type) as Float32Array, dims);
    return past;
  }

  /** A copy of `past` keeping the first `keep` positions; GPU-resident tensors are read back (the copy is fed from the CPU). */
  private async truncated(past: Record<string, Tensor>, keep: number): Promise<Record<string, Tensor>> {
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(past)) out[name] = this.firstPositions(t, (t.location === 'cpu' ? t.data : await t.getData()) as KvData, keep);
    return out;
  }

  /** A new tensor with the first `keep` positions of `t` ([batch, heads, positions, headDim]), whose values are `data`. */
  private firstPositions(t: Tensor, data: KvData, keep: number): Tensor {
    const [b, heads, length, dim] = t.dims as [number, number, number, number];
    const kept = new (data.constructor as new (n: number) => KvData)(b * heads * keep * dim);
    for (let h = 0; h < b * heads; h++) kept.set(data.subarray(h * length * dim, (h * length + keep) * dim), h * keep * dim);
    return new this.backend.ort.Tensor(t.type as 'float32', kept as Float32Array, [b, heads, keep, dim]);
  }

  /** Drops the least recent sequences beyond the limits; the current one always stays. */
  private evict(): void {
    const { maxSequences, maxBytes } = this.cacheLimits;
    while (this.sequences.length > Math.max(1, maxSequences) || (this.sequences.length > 1 && this.cachedBytes > maxBytes)) {
      dispose(this.sequences.pop()!.past);
    }
  }
}

/** Length of the common prefix of `a` and `b`, at most `limit`. */
function commonPrefix(a: number[], b: number[], limit: number): number {
  const n = Math.min(a.length, b.length, limit);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** GPU-resident tensors hold GPU buffers until disposed; CPU tensors make this a no-op. */
function dispose(past: Record<string, Tensor>): void {
  for (const t of Object.values(past)) t.dispose();
}

interface KvInput {
  name: string;
  /** The output holding this input's value for the next step (present.N.key for past_key_values.N.key). */
  present: string;
  type: TensorType;
  dims: number[];
}

/**
 * A KV input's output, type and shape with no past tokens, from the graph's metadata (so fp16 KV
 * caches get fp16 tensors): a symbolic batch is 1, the symbolic past length 0, other symbolic sizes
 * from config.json.
 */
function kvInput(session: InferenceSession, name: string, shape: DecoderShape): KvInput {
  const meta = session.inputMetadata.find((m) => m.name === name);
  if (!meta?.isTensor) throw new InvalidModelFileError(`the ONNX graph declares no tensor type for its input "${name}"`);
  const present = name.replace(/^past_key_values\./, 'present.');
  if (!session.outputNames.includes(present)) throw new InvalidModelFileError(`the ONNX graph has the input "${name}" but no output "${present}"`);
  const fromConfig = [1, shape.kvHeads, 0, shape.headDim];
  const declared = meta.shape.length === 4 ? meta.shape : fromConfig;
  const dims = declared.map((d, i) => (typeof d === 'number' ? d : i === 2 ? 0 : fromConfig[i]!));
  if (dims[1] !== shape.kvHeads || dims[3] !== shape.headDim) {
    throw new InvalidModelFileError(`the ONNX input "${name}" has shape [${meta.shape.join(', ')}] but config.json gives ${shape.kvHeads} KV heads of size ${shape.headDim}`);
  }
  return { name, present, type: meta.type, dims };
}

/**
 * A LoRA input that adds nothing: its declared shape at rank 1, all zeros. Rank 0 would be the same sum,
 * but onnxruntime-web runs the graph markedly slower with empty tensors (stories260K q4 decode: 0.60 of the converted graph, 0.89 with rank-1 zeros).
 */
function emptyLoraInput(session: InferenceSession, name: string, backend: ExecutionBackend): Tensor {
  const meta = session.inputMetadata.find((m) => m.name === name);
  const dims = meta?.isTensor ? meta.shape.map((d) => (typeof d === 'number' ? d : 1)) : [];
  if (dims.length !== 2) throw new InvalidModelFileError(`the ONNX LoRA input "${name}" must be 2-D`);
  return new backend.ort.Tensor('float32', new Float32Array(dims[0]! * dims[1]!), dims);
}

function emptyData(type: TensorType): Float32Array | Uint16Array {
  // float16 tensors take their raw bits in a Uint16Array.
  return type === 'float16' ? new Uint16Array(0) : new Float32Array(0);
}
