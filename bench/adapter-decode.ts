/**
 * npx tsx bench/adapter-decode.ts [--model smollm2-135m-instruct] [--file model_q4.onnx] [--runtime web|node] [--tokens N] [--rank R]
 *
 * Decode tokens/s of one converted decoder through the runtime's Decoder: the file as converted, the same
 * graph with LoRA inputs (withLoraInputs, what the runtime loads) fed rank 0, and with an adapter on
 * q/k/v/o and on every projection of every layer. Greedy steps after a short prompt; median of 3 runs.
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
  options: { model: { type: 'string', default: 'smollm2-135m-instruct' }, file: { type: 'string', default: 'model_q4.onnx' }, runtime: { type: 'string', default: 'web' }, tokens: { type: 'string', default: '48' }, rank: { type: 'string', default: '8' } },
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

async function decoder(bytes: Uint8Array): Promise<Decoder> {
  const session = (await ort.InferenceSession.create(bytes, web ? { executionProviders: ['wasm'] } : { intraOpNumThreads: 1 })) as unknown as InferenceSession;
  return new Decoder({ name: 'wasm', ort, threads: 1, onLost: () => {} } as unknown as ExecutionBackend, session, shape);
}

/** Median decode tokens/s over 3 greedy runs of `tokens` steps. */
async function decodeRate(d: Decoder): Promise<number> {
  const rates: number[] = [];
  for (let run = 0; run < 4; run++) {
    d.clearCache();
    let logits = (await d.prefill([1, 504, 3458, 314, 253, 1142])).logits;
    const started = performance.now();
    for (let i = 0; i < tokens; i++) {
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[best]!) best = v;
      logits = await d.step([best]);
    }
    if (run > 0) rates.push((tokens * 1000) / (performance.now() - started)); // run 0 warms up
  }
  return rates.sort((a, b) => a - b)[1]!;
}

console.log(`${args.model} ${args.file}, onnxruntime-${args.runtime} 1 thread, ${tokens} decode steps`);
const plain = await decodeRate(await decoder(file));
console.log(`as converted: ${plain.toFixed(1)} tokens/s`);
const started = performance.now();
const rewritten = withLoraInputs(file, loraShape)!;
const rewriteMs = performance.now() - started;
const withInputs = await decoder(rewritten);
const none = await decodeRate(withInputs);
console.log(`with LoRA inputs (rewrite ${rewriteMs.toFixed(0)} ms), no adapter: ${none.toFixed(1)} tokens/s (÷ as converted ${(none / plain).toFixed(2)})`);
for (const targets of [['q', 'k', 'v', 'o'], ['q', 'k', 'v', 'o', 'gate', 'up', 'down']] as LoraOptions['targets'][]) {
  const lora: LoraOptions = { rank, alpha: 2 * rank, layers: loraShape.nLayers, targets };
  const values = adapterLayout(loraShape, lora).map((m) => Float32Array.from({ length: m.rows * m.cols }, (_, i) => ((i % 13) - 6) * 1e-3));
  withInputs.useAdapter('bench', loraFeeds(withInputs.adapterShape!, lora, values));
  const rate = await decodeRate(withInputs);
  console.log(`adapter ${targets.join('/')} rank ${rank}, all layers: ${rate.toFixed(1)} tokens/s (÷ no adapter ${(rate / none).toFixed(2)})`);
}
