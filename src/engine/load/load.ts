/**
 * A model reference → a ready model, in two steps: fetch its files (fetch-files.ts: manifest, cache,
 * quota, verification) and open them (open-model.ts: decoder or encoder on the backend the policy
 * picks), with per-phase timings.
 */
import type { RuntimeEnv } from '../../env.ts';
import type { TransformersCache } from '../../storage/transformers-cache.ts';
import type { WeightCache } from '../../storage/weight-cache.ts';
import { DtypeUnavailableError } from '../../errors.ts';
import type { DeviceRequest, DtypeRequest, KvCacheLimits, LoadOptions } from '../../types.ts';
import { chooseDtype, NO_Q4F16 } from '../backends/dtype.ts';
import { defaultThreads } from '../backends/threads.ts';
import { probeWebGpu } from '../backends/webgpu.ts';
import { fetchModelFiles, type ModelFiles } from './fetch-files.ts';
import type { LoadedModel } from './loaded.ts';
import { openModel, ortBackends, prepareOpen, type ModelBackends, type OpenOptions, type Preparation } from './open-model.ts';
import { LoadProgress } from './progress.ts';

/** Load options after validation (options.ts), with their defaults filled in; `threads` unset: chosen per model (threads.ts). */
export type LoadRequest = LoadOptions & { dtype: DtypeRequest; device: DeviceRequest; threads?: number; kvCache: KvCacheLimits };

export async function loadModel(env: RuntimeEnv, cache: WeightCache, transformers: TransformersCache, model: string, opts: LoadRequest): Promise<LoadedModel> {
  const { device, kvCache } = opts;
  const progress = new LoadProgress(opts.onProgress);
  const started = performance.now();
  // The adapter is asked before any download: 'auto' picks the weights file by its features.
  let dtype = await chooseDtype(opts.dtype, device, () => probeWebGpu(0));
  let prepared: { backends: ModelBackends; open: OpenOptions; preparation: Preparation } | null = null;
  const fetchFiles = (): Promise<ModelFiles> =>
    fetchModelFiles(env, cache, model, { ...opts, dtype: dtype.dtype }, progress, (config, kind, baseUrl) => {
      // A caller's explicit thread count wins; otherwise the model's size decides.
      const threads = opts.threads ?? defaultThreads(config);
      const open = { device, threads, kvCache, dtypeReason: dtype.reason, ...(opts.signal && { signal: opts.signal }) };
      const backends = ortBackends(env, threads);
      prepared = { backends, open, preparation: prepareOpen(backends, config, kind, baseUrl, open) };
    });
  const files = await fetchFiles().catch((err: unknown) => {
    if (!(opts.dtype === 'auto' && dtype.dtype === 'q4f16' && err instanceof DtypeUnavailableError)) throw err;
    dtype = NO_Q4F16;
    return fetchFiles();
  });
  const fetched = performance.now();
  const { backends, open, preparation } = prepared!;
  const loaded = await openModel(backends, transformers, files, preparation, open, progress);
  const ready = performance.now();
  loaded.timings = { ...loaded.timings, fetchMs: fetched - started, totalMs: ready - started };
  return loaded;
}
