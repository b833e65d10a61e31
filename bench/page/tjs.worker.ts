/**
 * The transformers.js baseline, in its own worker, used the way its documentation recommends:
 * AutoTokenizer + AutoModelForCausalLM.generate on the same ONNX files, greedy, device 'wasm'.
 * Only paths are configured (files from this app, never a CDN or the Hub).
 */
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import * as Comlink from 'comlink';
import type { BaselineApi, Run } from './types.ts';

let tokenizer: PreTrainedTokenizer;
let model: PreTrainedModel;

const api: BaselineApi = {
  async load(id, dtype, threads, browserCache) {
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
    env.localModelPath = '/models/'; // a path: transformers.js skips local lookups for absolute URLs
    env.useBrowserCache = browserCache;
    const wasm = (env.backends.onnx as { wasm: { wasmPaths: string; numThreads: number } }).wasm;
    wasm.wasmPaths = new URL('/ort/', self.location.href).href;
    wasm.numThreads = threads;
    const started = performance.now();
    tokenizer = await AutoTokenizer.from_pretrained(id);
    model = await AutoModelForCausalLM.from_pretrained(id, { dtype, device: 'wasm' });
    return performance.now() - started;
  },
  async generate(prompt, maxNewTokens) {
    const inputs = tokenizer(prompt);
    const promptTokens = (inputs.input_ids as { dims: number[] }).dims[1]!;
    let first = 0;
    let puts = 0;
    const started = performance.now();
    await model.generate({
      ...inputs,
      max_new_tokens: maxNewTokens,
      min_new_tokens: maxNewTokens,
      do_sample: false,
      streamer: {
        put() {
          // The first put is the prompt; the second is the first generated token.
          if (++puts === 2) first = performance.now();
        },
        end() {},
      } as never,
    });
    const ended = performance.now();
    return run(promptTokens, maxNewTokens, started, first, ended);
  },
};

function run(promptTokens: number, tokens: number, started: number, first: number, ended: number): Run {
  return {
    promptTokens,
    tokens,
    ttftMs: first - started,
    prefillTokensPerSecond: (promptTokens * 1000) / (first - started),
    decodeTokensPerSecond: ((tokens - 1) * 1000) / (ended - first),
  };
}

Comlink.expose(api);
