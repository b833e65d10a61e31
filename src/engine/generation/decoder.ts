/**
 * One sequence through a decoder-with-past ONNX graph (the transformers.js signature): feeds ids,
 * keeps the KV cache from one step to the next (on the GPU for WebGPU), and returns the logits of
 * the last position. Buffers for the mask and positions are allocated once per sequence length.
 */
import { InvalidModelFileError } from '../../errors.ts';
import type { ExecutionBackend, InferenceSession, Tensor, TensorType } from '../backends/types.ts';

export interface DecoderShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
}

export class Decoder {
  private past: Record<string, Tensor> = {};
  private length = 0;
  private readonly ones: BigInt64Array;
  private readonly positions: BigInt64Array;
  private readonly hasPositionIds: boolean;
  /** Every past_key_values input with the present output that feeds it next step, its type and empty shape, as the graph declares them. */
  private readonly kv: KvInput[];
  /** What a generation step reads back: every output copied out of ORT's heap costs time per token. */
  private readonly stepOutputs: string[];

  constructor(
    readonly backend: ExecutionBackend,
    private readonly session: InferenceSession,
    readonly shape: DecoderShape,
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
    this.kv = session.inputNames.filter((n) => n.startsWith('past_key_values.')).map((name) => kvInput(session, name, shape));
    this.stepOutputs = session.outputNames.filter((n) => n === 'logits' || n.startsWith('present.'));
    this.ones = new BigInt64Array(shape.contextLength).fill(1n);
    this.positions = BigInt64Array.from({ length: shape.contextLength }, (_, i) => BigInt(i));
    this.reset();
  }

  /** Tokens in the KV cache. */
  get position(): number {
    return this.length;
  }

  /** Starts a new sequence. */
  reset(): void {
    this.disposePast();
    const { Tensor } = this.backend.ort;
    for (const { name, type, dims } of this.kv) this.past[name] = new Tensor(type as 'float32', emptyData(type) as Float32Array, dims);
    this.length = 0;
  }

  /** Runs `ids` after the tokens already in the cache; returns the logits of the last `rows` ids, row after row. */
  async step(ids: ArrayLike<number>, rows = 1): Promise<Float32Array> {
    const { Tensor } = this.backend.ort;
    const n = ids.length;
    const total = this.length + n;
    const feeds: Record<string, Tensor> = {
      ...this.past,
      input_ids: new Tensor('int64', BigInt64Array.from(ids as ArrayLike<number>, (v) => BigInt(v)), [1, n]),
      attention_mask: new Tensor('int64', this.ones.subarray(0, total), [1, total]),
    };
    if (this.hasPositionIds) feeds.position_ids = new Tensor('int64', this.positions.subarray(this.length, total), [1, n]);
    const out = await this.session.run(feeds, this.stepOutputs);
    this.disposePast();
    for (const { name, present } of this.kv) this.past[name] = out[present]!;
    this.length = total;
    const logits = out.logits!;
    const data = logits.data as Float32Array;
    const v = this.shape.vocabSize;
    return data.subarray((n - rows) * v, n * v);
  }

  /** Drops the cache entries from position `length` on (drafted tokens the generation did not take). CPU caches only. */
  truncate(length: number): void {
    if (length >= this.length) return;
    const { Tensor } = this.backend.ort;
    for (const [name, t] of Object.entries(this.past)) {
      if (t.location !== 'cpu') throw new Error(`truncate needs the KV cache in CPU memory; ${name} is in ${t.location}`);
      const [b, heads, total, dim] = t.dims as [number, number, number, number];
      const src = t.data as Float32Array;
      const dst = new (src.constructor as Float32ArrayConstructor)(b * heads * length * dim);
      // [batch, heads, positions, dim]: keep the first `length` positions of every head.
      for (let h = 0; h < b * heads; h++) dst.set(src.subarray(h * total * dim, (h * total + length) * dim), h * length * dim);
      this.past[name] = new Tensor(t.type as 'float32', dst, [b, heads, length, dim]);
    }
    this.length = length;
  }

  /** Whether the graph also returns the final hidden states (our exported models do). */
  get hasHiddenStates(): boolean {
    return this.session.outputNames.includes('last_hidden_state');
  }

  /**
   * Runs `ids` as a fresh sequence and returns the logits of every position (and the final hidden
   * states when the graph exports them): for scoring and embeddings rather than generation.
   */
  async forward(ids: number[]): Promise<{ logits: Float32Array; hidden: Float32Array | null }> {
    this.reset();
    const { Tensor } = this.backend.ort;
    const n = ids.length;
    const feeds: Record<string, Tensor> = {
      ...this.past,
      input_ids: new Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, n]),
      attention_mask: new Tensor('int64', this.ones.subarray(0, n), [1, n]),
    };
    if (this.hasPositionIds) feeds.position_ids = new Tensor('int64', this.positions.subarray(0, n), [1, n]);
    const out = await this.session.run(feeds);
    for (const [name, t] of Object.entries(out)) if (name.startsWith('present')) t.dispose();
    this.reset();
    return { logits: out.logits!.data as Float32Array, hidden: (out.last_hidden_state?.data as Float32Array | undefined) ?? null };
  }

  async release(): Promise<void> {
    this.disposePast();
    await this.session.release();
  }

  private disposePast(): void {
    // GPU-resident tensors hold GPU buffers until disposed; CPU tensors make this a no-op.
    for (const t of Object.values(this.past)) t.dispose();
    this.past = {};
  }
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

function emptyData(type: TensorType): Float32Array | Uint16Array {
  // float16 tensors take their raw bits in a Uint16Array.
  return type === 'float16' ? new Uint16Array(0) : new Float32Array(0);
}
