/**
 * npx tsx bench/training.ts [--threads N] [--runs N] [--tokens N] [--layers K] [--rank R]
 *
 * LoRA training throughput of the training graph (models/onnx/llama-train.ts) in onnxruntime-node, on a
 * synthetic model of SmolLM2-135M's shape (random weights: the speed is what counts), and the time that
 * extrapolates to one epoch of 100 examples × 64 tokens. Each run is one example's forward + backward
 * + one AdamW step over the adapter.
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { checkpointModel, type LlamaShape } from '../models/llama2c/checkpoint.ts';
import { buildLlamaTrainingGraph } from '../models/onnx/llama-train.ts';
import { syntheticCheckpoint } from '../models/synthetic.ts';
import { adapterLayout, initAdapter, type LoraOptions } from '../src/training/adapter.ts';
import { ADAMW_DEFAULTS, adamWState, adamWStep } from '../src/training/optimizer.ts';
import { graphStep } from '../src/training/trainer.ts';

const { values: args } = parseArgs({
  options: { threads: { type: 'string', default: '1' }, runs: { type: 'string', default: '5' }, tokens: { type: 'string', default: '64' }, layers: { type: 'string', default: '4' }, rank: { type: 'string', default: '8' } },
});
const SMOLLM2_SHAPE: LlamaShape = { dim: 576, hiddenDim: 1536, nLayers: 30, nHeads: 9, nKvHeads: 3, vocabSize: 49152, seqLen: 2048, sharedClassifier: true };
const threads = Number(args.threads);
const runs = Number(args.runs);
const tokens = Number(args.tokens);
const lora: LoraOptions = { rank: Number(args.rank), alpha: 2 * Number(args.rank), layers: Number(args.layers), targets: ['q', 'k', 'v', 'o'] };

const model = checkpointModel(syntheticCheckpoint(SMOLLM2_SHAPE, 1));
const s = model.spec;
const layout = adapterLayout({ nLayers: s.nLayers, dim: s.dim, hiddenDim: s.hiddenDim, qDim: s.nHeads * s.headSize, kvDim: s.nKvHeads * s.headSize }, lora);
let t = performance.now();
const graph = buildLlamaTrainingGraph(model, lora, 'bench');
const buildMs = performance.now() - t;
t = performance.now();
const session = await ort.InferenceSession.create(graph.bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
const sessionMs = performance.now() - t;
const step = graphStep(session, ort.Tensor, layout, { vocabSize: s.vocabSize, contextLength: s.contextLength });
const adapter = initAdapter(layout, 1);
const state = adamWState(adapter);
const ids = Array.from({ length: tokens }, (_, i) => (i * 7919) % s.vocabSize);
const example = { ids, mask: ids.map((_, i) => (i >= tokens / 2 ? 1 : 0)) };

const once = async (): Promise<number> => {
  const start = performance.now();
  const { grads } = await step(example, adapter);
  adamWStep(adapter, grads, state, { ...ADAMW_DEFAULTS, learningRate: 1e-4 });
  return performance.now() - start;
};
await once(); // warm-up: first-run allocations
const times: number[] = [];
for (let i = 0; i < runs; i++) times.push(await once());
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
const params = layout.reduce((n, m) => n + m.rows * m.cols, 0);
console.log(`SmolLM2-135M shape (synthetic), fp32, top ${lora.layers} layers q/k/v/o rank ${lora.rank} (${params} adapter parameters), ${graph.nodeCount} nodes, ${(graph.bytes.byteLength / 2 ** 20).toFixed(0)} MiB graph`);
console.log(`graph build ${(buildMs / 1000).toFixed(1)} s, session create ${(sessionMs / 1000).toFixed(1)} s, ${threads} thread(s)`);
console.log(`step of ${tokens} tokens: median ${median.toFixed(0)} ms (runs ${times.map((x) => x.toFixed(0)).join(', ')}) → ${((tokens * 1000) / median).toFixed(1)} tokens/s`);
console.log(`extrapolated one epoch of 100 examples × 64 tokens: ${((100 * median * (64 / tokens)) / 1000).toFixed(0)} s`);
