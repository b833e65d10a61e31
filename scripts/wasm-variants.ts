/**
 * npx tsx scripts/wasm-variants.ts [--variants q4-gqa,q4-mm,...] [--rounds N] [--decodes N]
 *
 * SmolLM2-135M-Instruct graph variants side by side in onnxruntime-web's WASM build under Node (1 thread,
 * the browser's CPU path): decode of one token after a 100-token KV cache and prefill of a 200-token
 * prompt, rounds alternating between variants (medians), and teacher-forced top-1 agreement with the
 * first variant listed (fp32 when it comes first) over 200 positions. Variants: dtype (fp32, q4 = the source's Q4_1 blocks as MatMulNBits, q8 = int8
 * DynamicQuantizeMatMul requantized from the dequantized weights, q4x = q4's blocks expanded to float
 * MatMul weights at session creation) × attention (gqa, mm = MatMul).
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { ggufModel } from '../models/gguf/model.ts';
import { readGguf } from '../models/gguf/reader.ts';
import { buildLlamaGraph } from '../models/onnx/llama.ts';
import type { DecoderModel } from '../models/spec.ts';
import { smolLm2Gguf } from '../tests/support/gguf.ts';
import { pieceIds } from '../tests/support/gpt2-pieces.ts';
import { LONG_TEXT } from '../tests/support/long-text.ts';

const { values: args } = parseArgs({ options: { variants: { type: 'string', default: 'fp32-gqa,fp32-mm,q4-gqa,q4-mm,q8-gqa,q8-mm' }, rounds: { type: 'string', default: '3' }, decodes: { type: 'string', default: '5' } } });
ort.env.wasm.numThreads = 1;
const LAYERS = 30;
const bytes = await smolLm2Gguf();
const { model } = ggufModel(bytes, 'SmolLM2');
const vocab = readGguf(bytes).metadata['tokenizer.ggml.tokens'] as string[];
const ids = pieceIds(vocab, `<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n${LONG_TEXT}<|im_end|>\n`).slice(0, 200);
if (ids.length < 200) throw new Error(`prompt has ${ids.length} tokens`);

/** The model as `name` builds it; q8 ignores the source's 4-bit blocks so every matrix is requantized to int8 rows. */
function build(name: string): Uint8Array {
  const [variant, attention] = name.split('-') as ['fp32' | 'q8' | 'q4' | 'q4x', 'gqa' | 'mm'];
  // q4x: the q4 file's blocks, expanded to float32 MatMul weights at session creation.
  const dtype = variant === 'q4x' ? 'q4' : variant;
  const source: DecoderModel = dtype === 'q8' ? { ...model, weights: { ...model.weights, blocks: undefined } } : model;
  return buildLlamaGraph(source, dtype, 'measure', { numLogitsToKeep: true, quantizedEmbedding: true, matmulAttention: attention === 'mm', expandBlocks: variant === 'q4x' }).bytes;
}

type Feeds = Record<string, ort.Tensor>;
const emptyPast = (): Feeds => {
  const past: Feeds = {};
  for (let l = 0; l < LAYERS; l++) for (const kind of ['key', 'value']) past[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, 3, 0, 64]);
  return past;
};
const i64 = (v: number[], dims: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), dims);
function feeds(tokens: number[], pastLength: number, past: Feeds, keep: number): Feeds {
  const total = pastLength + tokens.length;
  return {
    input_ids: i64(tokens, [1, tokens.length]),
    attention_mask: i64(new Array(total).fill(1), [1, total]),
    position_ids: i64(tokens.map((_, i) => pastLength + i), [1, tokens.length]),
    num_logits_to_keep: i64([keep], []),
    ...past,
  };
}
const presentAsPast = (out: ort.InferenceSession.OnnxValueMapType): Feeds => {
  const past: Feeds = {};
  for (let l = 0; l < LAYERS; l++) for (const kind of ['key', 'value']) past[`past_key_values.${l}.${kind}`] = out[`present.${l}.${kind}`] as ort.Tensor;
  return past;
};
const argmaxRows = (logits: Float32Array, v: number): number[] =>
  Array.from({ length: logits.length / v }, (_, r) => {
    let best = 0;
    for (let j = 1; j < v; j++) if (logits[r * v + j]! > logits[r * v + best]!) best = j;
    return best;
  });

interface Variant {
  name: string;
  session: ort.InferenceSession;
  fileMiB: number;
  decode: number[];
  prefill: number[];
  top1: number[];
}
const variants: Variant[] = [];
for (const name of args.variants.split(',')) {
  let t = performance.now();
  const graph = build(name);
  const buildS = (performance.now() - t) / 1000;
  t = performance.now();
  const session = await ort.InferenceSession.create(graph, { executionProviders: ['wasm'] });
  console.log(`${name}: ${(graph.byteLength / 2 ** 20).toFixed(0)} MiB, build ${buildS.toFixed(0)} s, session ${((performance.now() - t) / 1000).toFixed(0)} s`);
  const out = await session.run(feeds(ids, 0, emptyPast(), 0));
  variants.push({ name, session, fileMiB: graph.byteLength / 2 ** 20, decode: [], prefill: [], top1: argmaxRows(out.logits!.data as Float32Array, 49152) });
}

for (let round = 0; round < Number(args.rounds); round++) {
  for (const v of variants) {
    let t = performance.now();
    const warm = await v.session.run(feeds(ids, 0, emptyPast(), 1));
    v.prefill.push(performance.now() - t);
    // One token after the first 100 positions' cache (the same step repeated: the cache does not grow).
    const cache = presentAsPast(await v.session.run(feeds(ids.slice(0, 100), 0, emptyPast(), 1)));
    void warm;
    for (let d = 0; d < Number(args.decodes); d++) {
      t = performance.now();
      await v.session.run(feeds([ids[100]!], 100, cache, 1));
      v.decode.push(performance.now() - t);
    }
    console.log(`round ${round} ${v.name}: prefill ${v.prefill.at(-1)!.toFixed(0)} ms, decode ${v.decode.slice(-Number(args.decodes)).map((x) => x.toFixed(0)).join(' ')} ms`);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// Agreement with the first variant listed (put fp32 first; the WASM heap may not hold fp32 beside q4x).
const reference = variants[0]!;
for (const v of variants) {
  const agree = `${((100 * v.top1.filter((t, i) => t === reference.top1[i]).length) / v.top1.length).toFixed(1)} %`;
  console.log(
    `${v.name.padEnd(9)} ${v.fileMiB.toFixed(0).padStart(4)} MiB  decode ${median(v.decode).toFixed(0)} ms (${(1000 / median(v.decode)).toFixed(2)} tok/s)  prefill 200 ${median(v.prefill).toFixed(0)} ms (${((200 * 1000) / median(v.prefill)).toFixed(1)} tok/s)  top-1 vs ${reference.name} ${agree}`,
  );
}
