/**
 * The transformers.js baseline, in its own worker, used the way its documentation recommends:
 * AutoTokenizer + AutoModelForCausalLM.generate on the same ONNX files, greedy, device 'wasm'.
 * Only paths are configured (files from this app, never a CDN or the Hub).
 */
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import * as Comlink from 'comlink';
import { defaultChatPrompt } from '../../src/engine/tasks/chat.ts';
import type { BaselineApi, Run } from './types.ts';

let tokenizer: PreTrainedTokenizer;
let model: PreTrainedModel;

const api: BaselineApi = {
  async load(id, dtype, threads, browserCache) {
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
    env.localModelPath = '/models/'; // a path: transformers.js skips local lookups for absolute URLs
    env.useBrowserCache = browserCache;
    const wasm = (env.backends.onnx as { wasm: { wasmPaths: string | { mjs: string; wasm: string }; numThreads: number } }).wasm;
    // The WASM-only build of ORT (ours): transformers.js would load the WebGPU build (asyncify), whose
    // CPU kernels lack GatherBlockQuantized, which the real models' quantized embeddings use.
    const ort = (file: string): string => new URL(`/ort/${file}`, self.location.href).href;
    wasm.wasmPaths = { mjs: ort('ort-wasm-simd-threaded.mjs'), wasm: ort('ort-wasm-simd-threaded.wasm') };
    wasm.numThreads = threads;
    const started = performance.now();
    tokenizer = await AutoTokenizer.from_pretrained(id);
    model = await AutoModelForCausalLM.from_pretrained(id, { dtype, device: 'wasm' });
    return performance.now() - started;
  },
  async generate(prompt, maxNewTokens) {
    const t = await timedGenerate(tokenizer(prompt), maxNewTokens, maxNewTokens);
    return run(t.promptTokens, maxNewTokens, t.started, t.first, t.ended);
  },
  /**
   * The same conversation as ours: each turn's prompt from the model's chat template (our documented
   * default prompt for a model without one), generated from scratch, as its documentation shows (no
   * cache carried between calls); greedy, stopping at the end-of-sequence ids of generation_config.json.
   */
  async chat(system, turns, maxTokens) {
    const messages = [{ role: 'system', content: system }];
    const r = { ttftMs: [] as number[], replies: [] as string[] };
    for (const content of turns) {
      messages.push({ role: 'user', content });
      const text = tokenizer.chat_template ? (tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false }) as string) : defaultChatPrompt(messages as never);
      const t = await timedGenerate(tokenizer(text, { add_special_tokens: !tokenizer.chat_template }), maxTokens, 0);
      r.ttftMs.push(t.first - t.started);
      const reply = tokenizer.decode(t.ids.slice(t.promptTokens), { skip_special_tokens: true }).trim();
      r.replies.push(reply);
      messages.push({ role: 'assistant', content: reply });
    }
    return r;
  },
};

/** Greedy generation with the times of its start, first generated token and end, and the ids (prompt and new). */
async function timedGenerate(inputs: Record<string, unknown>, maxNewTokens: number, minNewTokens: number): Promise<{ promptTokens: number; ids: number[]; started: number; first: number; ended: number }> {
  const promptTokens = (inputs.input_ids as { dims: number[] }).dims[1]!;
  let first = 0;
  let puts = 0;
  const started = performance.now();
  const output = (await model.generate({
    ...inputs,
    max_new_tokens: maxNewTokens,
    min_new_tokens: minNewTokens,
    do_sample: false,
    streamer: {
      put() {
        // The first put is the prompt; the second is the first generated token.
        if (++puts === 2) first = performance.now();
      },
      end() {},
    } as never,
  })) as { tolist(): bigint[][] };
  const ended = performance.now();
  return { promptTokens, ids: output.tolist()[0]!.map(Number), started, first: first || ended, ended };
}

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
