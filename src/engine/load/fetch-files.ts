/**
 * Step one of a load: the model's files as verified bytes. Finds the manifest (cached revision first),
 * checks there is room, reads each file from the cache or downloads it into the cache, and runs from
 * memory instead when the cache is off or full (with memoryFallback). Knows nothing of ONNX sessions.
 */
import type { RuntimeEnv } from '../../env.ts';
import { DtypeUnavailableError, InvalidModelFileError, ModelNotFoundError, QuotaExceededError, type SlmError } from '../../errors.ts';
import { dtypePath, type Dtype, type ModelKind, type ServedManifest } from '../../model-format.ts';
import { download, MemorySink, type FileKind, type FileSpec } from '../../storage/download.ts';
import { WeightCache, type ModelRef } from '../../storage/weight-cache.ts';
import type { LoadOptions, ModelInfo } from '../../types.ts';
import { resolveModel } from '../resolve.ts';
import type { LoadProgress } from './progress.ts';

/** The config.json fields the runtime reads. */
export interface ModelConfig {
  model_type?: string;
  architectures?: string[];
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  hidden_size?: number;
  intermediate_size?: number;
  head_dim?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
  eos_token_id?: number | number[];
}

/** The files a model is opened from: config, tokenizer, tokenizer config and the dtype's ONNX file. */
export interface ModelFiles {
  model: string;
  baseUrl: string;
  dtype: Dtype;
  config: ModelConfig;
  /** The manifest's kind; null for a folder without one (a Hub repo), which config.json decides. */
  kind: ModelKind | null;
  /** Bytes by path below baseUrl. */
  files: Map<string, Uint8Array>;
  onnxPath: string;
  storage: ModelInfo['storage'];
  /**
   * Reads a file of the folder through the same verified cache: again (the weights are dropped once in ORT's
   * memory; a later fallback needs them), or one not needed to load (the training graph).
   */
  reread(path: string, signal?: AbortSignal): Promise<Uint8Array>;
}

export const CONFIG = 'config.json';
export const TOKENIZER = 'tokenizer.json';
export const TOKENIZER_CONFIG = 'tokenizer_config.json';

/**
 * Fetches the model's files. `onConfig` runs as soon as config.json is read, while the rest
 * downloads: to check the model's shape before its weights arrive and to start backends early.
 */
export async function fetchModelFiles(
  env: RuntimeEnv,
  cache: WeightCache,
  model: string,
  opts: LoadOptions & { dtype: Dtype },
  progress: LoadProgress,
  onConfig: (config: ModelConfig, kind: ModelKind | null, baseUrl: string) => void,
): Promise<ModelFiles> {
  const { dtype } = opts;
  const { baseUrl, kind: reference } = resolveModel(model, env, opts.revision);
  // One signal for the caller's abort and for our own: when one file fails, its siblings stop too.
  const failed = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal;

  const manifest = await findManifest(cache, baseUrl, opts.revalidate ?? false, signal);
  const ref: ModelRef = { id: model, revision: manifest?.revision ?? opts.revision ?? 'main', baseUrl, manifest };
  if (manifest?.dtypes && !manifest.dtypes[dtype]) {
    throw new DtypeUnavailableError(`${model} has no ${dtype} weights; available: ${Object.keys(manifest.dtypes).join(', ')}`, {
      details: { model, dtype, available: Object.keys(manifest.dtypes) },
    });
  }
  const onnxPath = manifest?.dtypes?.[dtype]?.file ?? dtypePath(dtype);
  const spec = (path: string, fileKind: FileKind): FileSpec => {
    const listed = manifest?.files?.[path];
    return { path, kind: fileKind, ...(listed && { size: listed.bytes, sha256: listed.sha256 }) };
  };
  const specs = [spec(CONFIG, 'json'), spec(TOKENIZER, 'json'), spec(TOKENIZER_CONFIG, 'json'), spec(onnxPath, 'onnx')];
  if (specs.every((f) => f.size !== undefined)) progress.totalBytes = specs.reduce((n, f) => n + f.size!, 0);

  let store = opts.cache === false ? WeightCache.memory(cache.config, 'caching was turned off for this load') : cache;
  /** The one memory fallback: storage ran out before or during the download. */
  const toMemory = (err: unknown): void => {
    if (!(err instanceof QuotaExceededError && opts.memoryFallback && store.persistent)) throw err;
    store = WeightCache.memory(cache.config, `running from memory: ${err.message}`);
  };
  await store.checkSpace(ref, specs).catch(toMemory);

  const get = async (file: FileSpec): Promise<Uint8Array> => {
    const counted = { network: 0, cache: 0, 'other-tab': 0 };
    const read = (from: WeightCache): Promise<Uint8Array> =>
      from.get(ref, file, {
        signal,
        onProgress: (loaded, total, source) => {
          progress.add(source, loaded - counted[source]);
          counted[source] = loaded;
          progress.emit({ phase: 'fetch', file: file.path, source, loaded, ...(total !== undefined && { total }) });
        },
      });
    try {
      return await read(store);
    } catch (err) {
      toMemory(err);
      counted.network = 0;
      return read(store);
    }
  };

  const [configSpec, ...rest] = specs;
  const configBytes = await get(configSpec!).catch((err: unknown) => {
    if (isAbsent(err)) {
      const what = reference === 'bundled' ? `no bundled model "${model}"` : `no model at ${baseUrl}`;
      throw new ModelNotFoundError(`${what} (${baseUrl}${CONFIG}: ${err.message})`, { cause: err, details: { model, url: baseUrl } });
    }
    throw err;
  });
  const config = JSON.parse(new TextDecoder().decode(configBytes)) as ModelConfig;
  const kind = manifest?.kind ?? null;
  onConfig(config, kind, baseUrl);
  const [tokenizer, tokenizerConfig, weights] = await Promise.all(
    rest.map((file) =>
      get(file).catch((err: unknown) => {
        if (file.path === onnxPath && err instanceof ModelNotFoundError) {
          throw new DtypeUnavailableError(`${model} has no ${dtype} weights (${baseUrl}${onnxPath}: HTTP 404)`, { cause: err, details: { model, dtype } });
        }
        throw err;
      }),
    ),
  ).catch((err: unknown) => {
    failed.abort(err);
    throw err;
  });
  await store.touch(ref);
  if (manifest) await store.deleteOtherRevisions(ref);
  await store.enforceBudget(WeightCache.modelKey(ref));
  const kept = store;
  return {
    model,
    baseUrl,
    dtype,
    config,
    kind,
    files: new Map([
      [CONFIG, configBytes],
      [TOKENIZER, tokenizer!],
      [TOKENIZER_CONFIG, tokenizerConfig!],
      [onnxPath, weights!],
    ]),
    onnxPath,
    storage: { persistent: kept.persistent, revision: ref.revision, ...(kept.unavailableReason && { reason: kept.unavailableReason }) },
    reread: (path, signal) => kept.get(ref, specs.find((s) => s.path === path) ?? spec(path, path.endsWith('.onnx') ? 'onnx' : 'binary'), { ...(signal && { signal }) }),
  };
}

/** The model's manifest via the cache (cached revision first); null for a model without one (a Hub repo). */
async function findManifest(cache: WeightCache, baseUrl: string, revalidate: boolean, signal: AbortSignal): Promise<ServedManifest | null> {
  const fetchManifest = async (): Promise<ServedManifest | null> => {
    try {
      const { bytes } = await download(`${baseUrl}manifest.json`, { path: 'manifest.json', kind: 'json' }, new MemorySink(cache.config.chunkBytes), { signal });
      return JSON.parse(new TextDecoder().decode(bytes)) as ServedManifest;
    } catch (err) {
      if (isAbsent(err)) return null;
      throw err;
    }
  };
  return cache.manifest(baseUrl, fetchManifest, revalidate, signal);
}

/**
 * A 404, or an HTML page where config.json should be (the app's SPA fallback answering an unknown
 * path), means there is no model at that address rather than a broken one.
 */
function isAbsent(err: unknown): err is SlmError {
  return err instanceof ModelNotFoundError || (err instanceof InvalidModelFileError && typeof err.details.contentType === 'string');
}
