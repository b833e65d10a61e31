/**
 * npx tsx bench/training.ts [--runtime node|web] [--threads N] [--runs N] [--tokens N] [--layers K] [--rank R]
 *
 * LoRA training throughput of the training graph (models/onnx/llama-train.ts) in onnxruntime-node (or
 * onnxruntime-web's WASM build run by Node, the browser's CPU path without the browser), on a
 * synthetic model of SmolLM2-135M's shape (random weights: the speed is what counts), and the time that
 * extrapolates to one epoch of 100 examples × 64 tokens. Each run is one example's forward + backward
 * + one AdamW step over the adapter: first with the full graph (the first epoch), then with the frozen
 * layers' output cached (later epochs: only the adapted layers run; the prefix's own time is shown apart).
 */
import { parseArgs } from 'node:util';
import * as ortNode from 'onnxruntime-node';
import { checkpointModel, type LlamaShape } from '../models/llama2c/checkpoint.ts';
import { buildLlamaPrefixGraph, buildLlamaTrainingGraph } from '../models/onnx/llama-train.ts';
import { syntheticCheckpoint } from '../models/synthetic.ts';
import { adapterLayout, initAdapter, type LoraOptions } from '../src/training/adapter.ts';
import { ADAMW_DEFAULTS, adamWState, adamWStep } from '../src/training/optimizer.ts';
import { graphStep, type TrainingStep } from '../src/training/trainer.ts';

const { values: args } = parseArgs({
  options: { runtime: { type: 'string', default: 'node' }, threads: { type: 'string', default: '1' }, runs: { type: 'string', default: '5' }, tokens: { type: 'string', default: '64' }, layers: { type: 'string', default: '4' }, rank: { type: 'string', default: '8' } },
});
const SMOLLM2_SHAPE: LlamaShape = { dim: 576, hiddenDim: 1536, nLayers: 30, nHeads: 9, nKvHeads: 3, vocabSize: 49152, seqLen: 2048, sharedClassifier: true };
const threads = Number(args.threads);
const web = args.runtime === 'web' ? await import('onnxruntime-web') : null;
if (web) web.env.wasm.numThreads = threads;
const ort = (web ?? ortNode) as typeof ortNode;
const runs = Number(args.runs);
const tokens = Number(args.tokens);
const lora: LoraOptions = { rank: Number(args.rank), alpha: 2 * Number(args.rank), layers: Number(args.layers), targets: ['q', 'k', 'v', 'o'] };

const model = checkpointModel(syntheticCheckpoint(SMOLLM2_SHAPE, 1));
const s = model.spec;
const layout = adapterLayout({ nLayers: s.nLayers, dim: s.dim, hiddenDim: s.hiddenDim, qDim: s.nHeads * s.headSize, kvDim: s.nKvHeads * s.headSize }, lora);
const limits = { vocabSize: s.vocabSize, contextLength: s.contextLength };
const sessionOptions: ortNode.InferenceSession.SessionOptions = web ? { executionProviders: ['wasm'] } : { intraOpNumThreads: threads, interOpNumThreads: 1 };
let t = performance.now();
const graph = buildLlamaTrainingGraph(model, lora, 'bench');
const buildMs = performance.now() - t;
t = performance.now();
const full = graphStep(await ort.InferenceSession.create(graph.bytes, sessionOptions), ort.Tensor, layout, limits);
const sessionMs = performance.now() - t;
const prefix = await ort.InferenceSession.create(buildLlamaPrefixGraph(model, lora, 'bench').bytes, sessionOptions);
const split = graphStep(await ort.InferenceSession.create(buildLlamaTrainingGraph(model, lora, 'bench', { frozenPrefix: 'input' }).bytes, sessionOptions), ort.Tensor, layout, limits, prefix);
const adapter = initAdapter(layout, 1);
const state = adamWState(adapter);
const ids = Array.from({ length: tokens }, (_, i) => (i * 7919) % s.vocabSize);
const example = { ids, mask: ids.map((_, i) => (i >= tokens / 2 ? 1 : 0)) };

/** Median wall-clock ms of `runs` calls after one warm-up call (first-run allocations). */
const median = async (fn: () => Promise<unknown>): Promise<{ ms: number; all: number[] }> => {
  await fn();
  const all: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    all.push(performance.now() - start);
  }
  return { ms: [...all].sort((a, b) => a - b)[Math.floor(runs / 2)]!, all };
};
const trainingStep = (step: TrainingStep) => async (): Promise<void> => {
  const { grads } = await step(example, adapter);
  adamWStep(adapter, grads, state, { ...ADAMW_DEFAULTS, learningRate: 1e-4 });
};
const fullStep = await median(trainingStep(full));
const splitStep = await median(trainingStep(split)); // the warm-up call fills the hidden-state cache
const prefixRun = await median(() => prefix.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, tokens]) }));

const params = layout.reduce((n, m) => n + m.rows * m.cols, 0);
const perEpoch = (ms: number): string => `${((100 * ms * (64 / tokens)) / 1000).toFixed(0)} s`;
const line = (name: string, r: { ms: number; all: number[] }): string =>
  `${name}: median ${r.ms.toFixed(0)} ms (runs ${r.all.map((x) => x.toFixed(0)).join(', ')}) → ${((tokens * 1000) / r.ms).toFixed(1)} tokens/s; 100 × 64 tokens: ${perEpoch(r.ms)}`;
console.log(`SmolLM2-135M shape (synthetic), fp32, top ${lora.layers} layers q/k/v/o rank ${lora.rank} (${params} adapter parameters), ${graph.nodeCount} nodes, ${(graph.bytes.byteLength / 2 ** 20).toFixed(0)} MiB graph`);
console.log(`graph build ${(buildMs / 1000).toFixed(1)} s, session create ${(sessionMs / 1000).toFixed(1)} s, onnxruntime-${args.runtime}, ${threads} thread(s), ${tokens}-token examples`);
console.log(line('first epoch (full graph) step', fullStep));
console.log(line('later epochs (frozen layers cached) step', splitStep));
console.log(line('frozen-prefix forward, once per example', prefixRun));
