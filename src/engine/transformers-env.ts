/**
 * transformers.js settings for code running beside the engine: files go through our IndexedDB cache
 * (never CacheStorage), ORT's files come from the app, and nothing reaches the Hub unless asked for.
 */
import { env } from '@huggingface/transformers';
import type { RuntimeEnv } from '../env.ts';
import { configureTransformersOrt } from './backends/ort-env.ts';
import { TransformersCache } from '../storage/transformers-cache.ts';
import type { WeightCache } from '../storage/weight-cache.ts';

export function configureTransformers(runtime: RuntimeEnv, cache: () => Promise<WeightCache>): TransformersCache {
  env.useBrowserCache = false;
  env.useFSCache = false;
  env.useCustomCache = true;
  const custom = new TransformersCache(cache);
  env.customCache = custom;
  env.allowLocalModels = true;
  // transformers.js looks up "local" models only under a path, never an absolute URL.
  env.localModelPath = new URL(runtime.modelBaseUrl).pathname;
  env.remoteHost = `${runtime.hubHost.replace(/\/$/, '')}/`;
  configureTransformersOrt(runtime);
  return custom;
}
