/**
 * WASM threads when the caller does not choose them (`threads` unset). ORT's thread pool costs a fixed
 * hand-off per operator, which a tiny model's operators do not repay (stories260K decoded slower on 2
 * threads), while a model of SmolLM2-135M's size gains when the cores are free (its fp32 shape: decode
 * 1.45×, prefill 1.6× on 2 threads) and loses when they are not (SmolLM2 q4 on 2 shared cores: decode
 * 0.5×; README, "Backends"). So: one thread below MIN_THREADED_PARAMS, else half the logical cores
 * (onnxruntime-web's own default, which leaves the page and other tabs a core), at most 4. Cross-origin
 * isolation and the main thread are checked later (ort-env.ts usableThreads).
 */
import type { ModelConfig } from '../load/fetch-files.ts';

/** Matrix weights per generated token below which one thread is faster. */
export const MIN_THREADED_PARAMS = 30e6;

export function defaultThreads(config: ModelConfig, cores: number = globalThis.navigator?.hardwareConcurrency ?? 1): number {
  if (matrixParams(config) < MIN_THREADED_PARAMS) return 1;
  return Math.max(1, Math.min(4, Math.floor(cores / 2)));
}

/** Weights a token is multiplied by: attention and MLP of every layer and the LM head (config.json's sizes). */
export function matrixParams(config: ModelConfig): number {
  const hidden = config.hidden_size ?? 0;
  const inner = config.intermediate_size ?? 4 * hidden;
  const layers = config.num_hidden_layers ?? 0;
  return layers * (4 * hidden * hidden + 3 * hidden * inner) + (config.vocab_size ?? 0) * hidden;
}
