/** Runs a decoder-with-past ONNX file with onnxruntime-node, the way transformers.js feeds it. */
import * as ort from 'onnxruntime-node';

export interface DecoderShape {
  layers: number;
  kvHeads: number;
  headSize: number;
  vocab: number;
}

export class NodeDecoder {
  private past: Record<string, ort.Tensor>;
  private length = 0;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly shape: DecoderShape,
  ) {
    this.past = this.emptyPast();
  }

  static async open(model: string | Uint8Array, shape: DecoderShape, options: ort.InferenceSession.SessionOptions = {}): Promise<NodeDecoder> {
    const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
    return new NodeDecoder(session, shape);
  }

  /** Starts a new sequence. */
  reset(): void {
    this.past = this.emptyPast();
    this.length = 0;
  }

  /**
   * Feeds `ids` after everything fed so far; returns one logits row per id, or per each of the last
   * `keep` ids when the graph has a `num_logits_to_keep` input (0 or absent: every id).
   */
  async feed(ids: number[], keep = 0): Promise<Float32Array[]> {
    const total = this.length + ids.length;
    const out = await this.session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(this.length + i)), [1, ids.length]),
      ...this.past,
      ...(this.session.inputNames.includes('num_logits_to_keep') && { num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), []) }),
    });
    this.length = total;
    this.past = {};
    for (let l = 0; l < this.shape.layers; l++) {
      for (const kind of ['key', 'value']) this.past[`past_key_values.${l}.${kind}`] = out[`present.${l}.${kind}`]!;
    }
    const logits = out.logits!.data as Float32Array;
    const v = this.shape.vocab;
    return Array.from({ length: logits.length / v }, (_, i) => logits.subarray(i * v, (i + 1) * v)); // views, not copies: the bench times this
  }

  private emptyPast(): Record<string, ort.Tensor> {
    const past: Record<string, ort.Tensor> = {};
    // The cache's element type as the graph declares it (float16 for q4f16 files).
    const declared = this.session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
    const half = declared?.isTensor && declared.type === 'float16';
    for (let l = 0; l < this.shape.layers; l++) {
      for (const kind of ['key', 'value']) {
        const dims = [1, this.shape.kvHeads, 0, this.shape.headSize];
        past[`past_key_values.${l}.${kind}`] = half ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
      }
    }
    return past;
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
