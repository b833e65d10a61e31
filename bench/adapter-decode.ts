/**
 * npx tsx bench/adapter-decode.ts [--model smollm2-135m-instruct] [--file model_q4.onnx] [--runtime web|node] [--tokens N] [--rank R] [--rounds N]
 *
 * Decode tokens/s of one converted decoder through the runtime's Decoder: the file as converted, the same
 * graph with LoRA inputs (withLoraInputs, what the runtime loads) fed rank 0, and with an adapter on
 * q/k/v/o and on every projection of every layer. Greedy steps after a short prompt, variants interleaved.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ortNode from 'onnxruntime-node';
import type { ExecutionBackend, InferenceSession } from '../src/engine/backends/types.ts';
import { Decoder } from '../src/engine/generation/decoder.ts';
import { adapterLayout, type LoraOptions } from '../src/training/adapter.ts';
import { loraFeeds } from '../src/training/lora-feeds.ts';
import { loraGraphShape, withLoraInputs } from '../src/training/lora-graph.ts';

const { values: args } = parseArgs({
  options: { model: { type: 'string', default: 'smollm2-135m-instruct' }, file: { type: 'string', default: 'model_q4.onnx' }, runtime: { type: 'string', default: 'web' }, tokens: { type: 'string', default: '48' }, rank: { type: 'string', default: '8' }, rounds: { type: 'string', default: '5' } },
});
const web = args.runtime === 'web' ? await import('onnxruntime-web') : null;
if (web) web.env.wasm.numThreads = 1;
const ort = (web ?? ortNode) as typeof ortNode;
const dir = join('public/models', args.model);
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>;
const loraShape = loraGraphShape(config)!;
const shape = { layers: loraShape.nLayers, kvHeads: loraShape.kvDim / loraShape.headDim, headDim: loraShape.headDim, vocabSize: config.vocab_size!, contextLength: config.max_position_embeddings! };
const file = readFileSync(join(dir, 'onnx', args.file));
const tokens = Number(args.tokens);
const rank = Number(args.rank);
const rounds = Number(args.rounds) + 1;

async function decoder(bytes: Uint8Array): Promise<Decoder> {
  const session = (await ort.InferenceSession.create(bytes, web ? { executionProviders: ['wasm'] } : { intraOpNumThreads: 1 })) as unknown as InferenceSession;
  return new Decoder({ name: 'wasm', ort, threads: 1, onLost: () => {} } as unknown as ExecutionBackend, session, shape);
}

/** Decode tokens/s of one greedy run of `tokens` steps. */
async function decodeRate(d: Decoder): Promise<number> {
  d.clearCache();
  let logits = (await d.prefill([1, 504, 3458, 314, 253, 1142].map((id) => id % shape.vocabSize))).logits;
  const started = performance.now();
  for (let i = 0; i < tokens; i++) {
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[best]!) best = v;
    logits = await d.step([best]);
  }
  return (tokens * 1000) / (performance.now() - started);
}

const plain = await decoder(file);
const started = performance.now();
const withInputs = await decoder(withLoraInputs(file, loraShape)!);
const rewriteMs = performance.now() - started;
const adapters = (['q/k/v/o', 'q/k/v/o/gate/up/down'] as const).map((t) => {
  const lora: LoraOptions = { rank, alpha: 2 * rank, layers: loraShape.nLayers, targets: t.split('/') as LoraOptions['targets'] };
  const values = adapterLayout(loraShape, lora).map((m) => Float32Array.from({ length: m.rows * m.cols }, (_, i) => ((i % 13) - 6) * 1e-3));
  return { name: `adapter ${t} rank ${rank}, all layers`, feeds: loraFeeds(withInputs.adapterShape!, lora, values) };
});
// Variants interleaved round by round (the first round warms up), so that load on a shared machine hits all alike.
const rates = new Map<string, number[]>();
const variants: Array<[string, () => Promise<number>]> = [
  ['as converted', () => decodeRate(plain)],
  ['with LoRA inputs, no adapter', () => (withInputs.useAdapter(null), decodeRate(withInputs))],
  ...adapters.map((a): [string, () => Promise<number>] => [a.name, () => (withInputs.useAdapter('bench', a.feeds), decodeRate(withInputs))]),
];
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of variants) {
    const rate = await run();
    if (round > 0) rates.set(name, [...(rates.get(name) ?? []), rate]);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${args.model} ${args.file}, onnxruntime-${args.runtime} 1 thread, ${tokens} decode steps × ${rounds - 1} interleaved rounds (median); graph rewrite ${rewriteMs.toFixed(0)} ms`);
const base = median(rates.get('as converted')!);
const none = median(rates.get('with LoRA inputs, no adapter')!);
for (const [name, xs] of rates) {
  const m = median(xs);
  console.log(`${name}: ${m.toFixed(1)} tokens/s (÷ as converted ${(m / base).toFixed(2)}, ÷ no adapter ${(m / none).toFixed(2)})`);
}
