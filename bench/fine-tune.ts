/**
 * npx tsx bench/fine-tune.ts [--model smollm2-135m-instruct] [--dtype q4] [--examples 100] [--epochs 1]
 *
 * Time to fine-tune a converted model through the Engine (onnxruntime-node standing in for the WASM
 * build, one thread) on short routing examples (each ≤ 64 tokens with SmolLM2's chat template), one epoch,
 * LoRA rank 8 on q/k/v/o of the top 6 layers, 10 % held out; prints the report's figures and peak RSS ÷ the
 * model file's bytes.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dtypePath, type Dtype } from '../src/model-format.ts';
import { TRAINING_GRAPH } from '../src/training/adapter.ts';
import type { FineTuneExample } from '../src/training/fine-tune.ts';
import { startFileServer } from '../tests/support/file-server.ts';
import { folderLoader, loadedEngine } from '../tests/training/support/node-engine.ts';

const { values: args } = parseArgs({ options: { model: { type: 'string', default: 'smollm2-135m-instruct' }, dtype: { type: 'string', default: 'q4' }, examples: { type: 'string', default: '100' }, epochs: { type: 'string', default: '1' } } });
const folder = join('public/models', args.model);
const dtype = args.dtype as Dtype;
const QUEUES = ['ORCHID', 'BASALT', 'MAGPIE', 'TUNDRA', 'QUILL', 'EMBER'];
const TOPICS = ['my invoice is wrong', 'the app crashes on login', 'I want to change my address', 'the parcel never arrived', 'please delete my account', 'how do I export my data'];
const examples: FineTuneExample[] = Array.from({ length: Number(args.examples) }, (_, i) => ({ prompt: `Route this ticket: ${TOPICS[i % 6]} (ref ${1000 + i})`, completion: QUEUES[i % 6]! }));

const server = await startFileServer({ [`/m/${TRAINING_GRAPH}`]: new Uint8Array(readFileSync(join(folder, TRAINING_GRAPH))) });
let peak = 0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 200);
const loadStarted = performance.now();
const { engine, handle } = await loadedEngine(folderLoader(folder, `${server.url}/m/`, dtype));
const loadMs = performance.now() - loadStarted;
const report = await engine.fineTune(handle, examples, { name: 'routing', rank: 8, epochs: Number(args.epochs), validationSplit: 0.1, seed: 1 }, (p) => {
  if (p.step === 1 || p.step % 10 === 0 || p.step === p.steps) console.log(`step ${p.step}/${p.steps} loss ${p.trainLoss.toFixed(3)} ${p.tokensPerSecond.toFixed(0)} tokens/s, eta ${(p.etaMs / 1000).toFixed(0)} s`);
});
clearInterval(sample);
await server.close();
const fileBytes = statSync(join(folder, dtypePath(dtype))).size;
console.log(`${args.model} ${dtype}: load ${(loadMs / 1000).toFixed(1)} s; fine-tune ${examples.length} examples × ${args.epochs} epoch: ${(report.ms / 1000).toFixed(1)} s (training steps ${report.trainLoss.length}), adapter ${report.adapterBytes} bytes`);
console.log(`held-out loss ${report.heldOutLoss.map((h) => h.loss.toFixed(3)).join(' → ')}; exact match ${report.before.exactMatch} → ${report.after.exactMatch} (chance ${(1 / 6).toFixed(2)})`);
console.log(`peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB = ${(peak / fileBytes).toFixed(1)} × the ${(fileBytes / 2 ** 20).toFixed(0)} MiB model file`);
