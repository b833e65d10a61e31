/**
 * fetch → verify → create session: everything needed to turn a model reference into a ready decoder
 * (our own ORT session) or encoder (transformers.js feature extraction, for Hub encoder models), with
 * per-phase timings and the backend policy (WebGPU when the probe and a first run succeed, WASM
 * otherwise, with the reason recorded).
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import type { RuntimeEnv } from '../env.ts';
import {
  BackendUnavailableError,
  DtypeUnavailableError,
  InvalidArgumentError,
  InvalidModelFileError,
  ModelNotFoundError,
  QuotaExceededError,
  SlmError,
  throwIfAborted,
} from '../errors.ts';
import { download, MemorySink, type FileKind, type FileSpec } from '../storage/download.ts';
import { WeightCache, type ModelRef } from '../storage/weight-cache.ts';
import type { Backend, DeviceRequest, Dtype, LoadOptions, LoadTimings, ModelInfo, ProgressEvent } from '../types.ts';
import { wasmBackend } from './backends/wasm.ts';
import { probeWebGpu, webgpuBackend, type WebGpuProbe } from './backends/webgpu.ts';
import { Encoder, isEncoderConfig, type EncoderConfig } from './encoder.ts';
import { Decoder, type DecoderShape } from './generation/decoder.ts';
import type { TransformersCache } from '../storage/transformers-cache.ts';
import { resolveModel } from './resolve.ts';

export const DTYPES: readonly Dtype[] = ['fp32', 'q8', 'q4'];
const DEVICES: readonly DeviceRequest[] = ['auto', 'webgpu', 'wasm'];
/** transformers.js file naming for each dtype. */
export const DTYPE_FILES: Record<Dtype, string> = { fp32: 'onnx/model.onnx', q8: 'onnx/model_quantized.onnx', q4: 'onnx/model_q4.onnx' };

interface Manifest {
  revision?: string;
  files?: Record<string, { bytes: number; sha256: string }>;
  dtypes?: Partial<Record<Dtype, { file: string }>>;
}

interface ModelConfig extends EncoderConfig {
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  hidden_size: number;
  head_dim?: number;
  vocab_size: number;
  max_position_embeddings?: number;
  eos_token_id?: number | number[];
}

interface LoadedCommon {
  url: string;
  dtype: Dtype;
  tokenizer: PreTrainedTokenizer;
  backendReason: string;
  fellBack: boolean;
  weightBytes: number;
  storage: ModelInfo['storage'];
  timings: LoadTimings;
}

/** A causal LM: generation, chat, extraction, zero-shot scoring and embeddings from its hidden states. */
export interface LoadedDecoder extends LoadedCommon {
  kind: 'decoder';
  decoder: Decoder;
  eosIds: Set<number>;
  /** Re-creates the decoder on WASM (after a lost GPU device or a failed GPU run). */
  fallBackToWasm(reason: string): Promise<void>;
}

/** An encoder-only model: embeddings, trained classifiers and search. */
export interface LoadedEncoder extends LoadedCommon {
  kind: 'encoder';
  encoder: Encoder;
}

export type LoadedModel = LoadedDecoder | LoadedEncoder;

export function validateLoadOptions(opts: LoadOptions): Required<Pick<LoadOptions, 'dtype' | 'device' | 'threads'>> {
  const dtype = opts.dtype ?? 'q4';
  const device = opts.device ?? 'auto';
  const threads = opts.threads ?? 1;
  if (!DTYPES.includes(dtype)) throw new InvalidArgumentError(`dtype must be one of ${DTYPES.join(', ')}; got ${JSON.stringify(dtype)}`);
  if (!DEVICES.includes(device)) throw new InvalidArgumentError(`device must be one of ${DEVICES.join(', ')}; got ${JSON.stringify(device)}`);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new InvalidArgumentError(`threads must be an integer from 1 to 64; got ${threads}`);
  return { dtype, device, threads };
}

export async function loadModel(env: RuntimeEnv, cache: WeightCache, transformers: TransformersCache, model: string, opts: LoadOptions): Promise<LoadedModel> {
  const { dtype, device, threads } = validateLoadOptions(opts);
  const { baseUrl, kind } = resolveModel(model, env, opts.revision);
  const started = performance.now();
  // One signal for the caller's abort and for our own: when one file fails, its siblings stop too.
  const failed = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal;
  const bytes = { network: 0, cache: 0, 'other-tab': 0 };
  let totalBytes: number | undefined;
  const progress = (e: Pick<ProgressEvent, 'phase' | 'file' | 'source' | 'loaded' | 'total'>): void =>
    opts.onProgress?.({
      ...e,
      networkBytes: bytes.network,
      cacheBytes: bytes.cache,
      totalLoaded: bytes.network + bytes.cache,
      ...(totalBytes !== undefined && { totalBytes }),
    });

  const manifest = await findManifest(cache, baseUrl, opts, signal);
  const ref: ModelRef = { id: model, revision: manifest?.revision ?? opts.revision ?? 'main', baseUrl, manifest };
  const onnxFile = manifest?.dtypes?.[dtype]?.file ?? DTYPE_FILES[dtype];
  if (manifest?.dtypes && !manifest.dtypes[dtype]) {
    throw new DtypeUnavailableError(`${model} has no ${dtype} weights; available: ${Object.keys(manifest.dtypes).join(', ')}`, {
      details: { model, dtype, available: Object.keys(manifest.dtypes) },
    });
  }
  const spec = (path: string, fileKind: FileKind): FileSpec => {
    const listed = manifest?.files?.[path];
    return { path, kind: fileKind, ...(listed && { size: listed.bytes, sha256: listed.sha256 }) };
  };
  const specs = {
    config: spec('config.json', 'json'),
    tokenizer: spec('tokenizer.json', 'json'),
    tokenizerConfig: spec('tokenizer_config.json', 'json'),
    onnx: spec(onnxFile, 'onnx'),
  };
  if (Object.values(specs).every((f) => f.size !== undefined)) totalBytes = Object.values(specs).reduce((n, f) => n + f.size!, 0);

  let store = opts.cache === false ? WeightCache.memory(cache.config, 'caching was turned off for this load') : cache;
  try {
    await store.checkSpace(ref, Object.values(specs));
  } catch (err) {
    if (!(err instanceof QuotaExceededError && opts.memoryFallback)) throw err;
    store = WeightCache.memory(cache.config, `running from memory: ${err.message}`);
  }

  const get = async (file: FileSpec): Promise<Uint8Array> => {
    const counted = { network: 0, cache: 0, 'other-tab': 0 };
    const read = (from: WeightCache): Promise<Uint8Array> => from.get(ref, file, {
      ...(signal && { signal }),
      onProgress: (loaded, total, source) => {
        bytes[source] += loaded - counted[source];
        counted[source] = loaded;
        progress({ phase: 'fetch', file: file.path, source, loaded, ...(total !== undefined && { total }) });
      },
    });
    try {
      return await read(store);
    } catch (err) {
      // Storage filled up during the download (another tab, another app): finish from memory if allowed.
      if (!(err instanceof QuotaExceededError && opts.memoryFallback && store.persistent)) throw err;
      store = WeightCache.memory(cache.config, `running from memory: ${err.message}`);
      counted.network = 0;
      return read(store);
    }
  };
  const parse = <T>(bytes: Uint8Array): T => JSON.parse(new TextDecoder().decode(bytes)) as T;

  const configBytes = await get(specs.config).catch((err: unknown) => {
    if (isAbsent(err)) {
      const what = kind === 'bundled' ? `no bundled model "${model}"` : `no model at ${baseUrl}`;
      throw new ModelNotFoundError(`${what} (${baseUrl}config.json: ${err.message})`, { cause: err, details: { model, url: baseUrl } });
    }
    throw err;
  });
  const config = parse<ModelConfig>(configBytes);
  // A decoder's shape is checked before its weights are downloaded.
  const shape = isEncoderConfig(config) ? null : decoderShape(config, baseUrl);
  // The WebGPU probe and ORT's WASM start-up (fetching and compiling its 14 MB module: most of a warm
  // load) run while the files are read; createDecoder picks up their results.
  const probe = shape && device !== 'wasm' ? probeWebGpu(largestTensorBytes(shape)) : null;
  if (shape) {
    void (probe ?? Promise.resolve(null))
      .then((p) => (p?.ok || device === 'webgpu' ? null : wasmBackend(env, threads)))
      .catch(() => {}); // a failure surfaces where the backend is awaited
  }
  const [tokenizerBytes, tokenizerConfigBytes, weights] = await Promise.all([
    get(specs.tokenizer),
    get(specs.tokenizerConfig),
    get(specs.onnx).catch((err: unknown) => {
      if (err instanceof ModelNotFoundError) {
        throw new DtypeUnavailableError(`${model} has no ${dtype} weights (${baseUrl}${onnxFile}: HTTP 404)`, { cause: err, details: { model, dtype } });
      }
      throw err;
    }),
  ]).catch((err: unknown) => {
    failed.abort(err);
    throw err;
  });
  await store.touch(ref);
  if (manifest) await store.deleteOtherRevisions(ref);
  await store.enforceBudget(WeightCache.modelKey(ref));
  const fetched = performance.now();
  const storage = { persistent: store.persistent, revision: ref.revision, ...(store.unavailableReason && { reason: store.unavailableReason }) };

  if (!shape) {
    throwIfAborted(signal, `loading ${model}`);
    progress({ phase: 'compile' });
    const files = new Map([
      [specs.config.path, configBytes],
      [specs.tokenizer.path, tokenizerBytes],
      [specs.tokenizerConfig.path, tokenizerConfigBytes],
      [specs.onnx.path, weights],
    ]);
    const { encoder, backendReason, fellBack } = await Encoder.create(transformers, { baseUrl, dtype, device, threads, config, files, signal });
    const ready = performance.now();
    progress({ phase: 'ready' });
    return {
      kind: 'encoder',
      url: baseUrl,
      dtype,
      tokenizer: encoder.tokenizer,
      encoder,
      backendReason,
      fellBack,
      weightBytes: weights.byteLength,
      storage,
      // Session creation and the validating first run happen together inside the pipeline.
      timings: { fetchMs: fetched - started, compileMs: ready - fetched, warmupMs: 0, totalMs: ready - started },
    };
  }

  const tokenizer = new PreTrainedTokenizer(parse<object>(tokenizerBytes), parse<object>(tokenizerConfigBytes));
  const eos = config.eos_token_id ?? tokenizer.eos_token_id;
  const eosIds = new Set<number>((Array.isArray(eos) ? eos : [eos]).filter((v): v is number => typeof v === 'number'));

  throwIfAborted(signal, `loading ${model}`);
  progress({ phase: 'compile' });
  let onnx: Uint8Array | null = weights;
  const weightBytes = weights.byteLength;
  // After loading, the weights live only in ORT's memory; a later WASM fallback reads them from the store again.
  const onnxBytes = async (): Promise<Uint8Array> => onnx ?? store.get(ref, specs.onnx);
  const wasmDecoder = async (): Promise<Decoder> => {
    const backend = await wasmBackend(env, threads);
    return new Decoder(backend, await backend.createSession(await onnxBytes(), []), shape);
  };
  const created = await createDecoder(env, device, weights, shape, wasmDecoder, probe, signal);
  const compiled = performance.now();
  progress({ phase: 'warmup' });
  const warmupToken = tokenizer.bos_token_id ?? 0;
  const { decoder, backendReason, fellBack } = await warmUp(created, device, warmupToken, wasmDecoder, signal);
  onnx = null;
  const warmed = performance.now();
  progress({ phase: 'ready' });

  const loaded: LoadedDecoder = {
    kind: 'decoder',
    url: baseUrl,
    dtype,
    tokenizer,
    decoder,
    eosIds,
    backendReason,
    fellBack,
    weightBytes,
    storage,
    timings: {
      fetchMs: fetched - started,
      compileMs: compiled - fetched,
      warmupMs: warmed - compiled,
      totalMs: warmed - started,
    },
    async fallBackToWasm(reason: string) {
      const old = loaded.decoder;
      loaded.decoder = await wasmDecoder();
      loaded.backendReason = `${reason}; fell back to WASM`;
      loaded.fellBack = true;
      await old.release().catch(() => {});
    },
  };
  decoder.backend.onLost((reason) => void loaded.fallBackToWasm(reason));
  return loaded;
}

/** The model's manifest via the cache (cached revision first); null for a model without one (a Hub repo). */
async function findManifest(cache: WeightCache, baseUrl: string, opts: LoadOptions, signal?: AbortSignal): Promise<Manifest | null> {
  const fetchManifest = async (): Promise<Manifest | null> => {
    try {
      const { bytes } = await download(`${baseUrl}manifest.json`, { path: 'manifest.json', kind: 'json' }, new MemorySink(cache.config.chunkBytes), signal ? { signal } : {});
      return JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
    } catch (err) {
      if (isAbsent(err)) return null;
      throw err;
    }
  };
  return (await cache.manifest(baseUrl, fetchManifest, opts.revalidate ?? false, signal)) as Manifest | null;
}

/**
 * A 404, or an HTML page where config.json should be (the app's SPA fallback answering an unknown
 * path), means there is no model at that address rather than a broken one.
 */
function isAbsent(err: unknown): err is SlmError {
  return err instanceof ModelNotFoundError || (err instanceof InvalidModelFileError && typeof err.details.contentType === 'string');
}

/** The largest buffer a decoding step binds: the logits, or a layer's KV cache at full context. */
function largestTensorBytes(shape: DecoderShape): number {
  return Math.max(shape.vocabSize, shape.kvHeads * shape.headDim * shape.contextLength) * 4;
}

function decoderShape(config: ModelConfig, baseUrl: string): DecoderShape {
  const heads = config.num_attention_heads;
  const shape: DecoderShape = {
    layers: config.num_hidden_layers,
    kvHeads: config.num_key_value_heads ?? heads,
    headDim: config.head_dim ?? config.hidden_size / heads,
    vocabSize: config.vocab_size,
    contextLength: config.max_position_embeddings ?? 2048,
  };
  for (const [k, v] of Object.entries(shape)) {
    if (!Number.isInteger(v) || v <= 0) throw new InvalidModelFileError(`${baseUrl}config.json: ${k} is ${v}; is this a decoder LLM config?`);
  }
  return shape;
}

interface Created {
  decoder: Decoder;
  backendReason: string;
  fellBack: boolean;
}

async function createDecoder(
  env: RuntimeEnv,
  device: DeviceRequest,
  onnx: Uint8Array,
  shape: DecoderShape,
  wasmDecoder: () => Promise<Decoder>,
  webgpuProbe: Promise<WebGpuProbe> | null,
  signal?: AbortSignal,
): Promise<Created> {
  const outputs = ['logits', ...Array.from({ length: shape.layers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat()];
  let reason = 'WASM was requested';
  let fellBack = false;
  if (webgpuProbe) {
    const probe = await webgpuProbe;
    if (!probe.ok) {
      if (device === 'webgpu') throw new BackendUnavailableError(`WebGPU was requested but ${probe.reason}`);
      reason = `WebGPU unavailable (${probe.reason}); using WASM`;
    } else {
      try {
        const backend = await webgpuBackend(env, probe);
        const session = await backend.createSession(onnx, outputs);
        return { decoder: new Decoder(backend, session, shape), backendReason: `WebGPU adapter: ${probe.description}`, fellBack: false };
      } catch (err) {
        if (device === 'webgpu') throw new BackendUnavailableError(`WebGPU session creation failed: ${message(err)}`, { cause: err });
        reason = `WebGPU session creation failed (${message(err)}); fell back to WASM`;
        fellBack = true;
      }
    }
  }
  throwIfAborted(signal, 'loading the model');
  return { decoder: await wasmDecoder(), backendReason: reason, fellBack };
}

/** One real step validates the backend: a WebGPU run that throws or returns non-finite logits means WASM. */
async function warmUp(created: Created, device: DeviceRequest, token: number, wasmDecoder: () => Promise<Decoder>, signal?: AbortSignal): Promise<Created> {
  const { decoder } = created;
  const failure = await decoder
    .step([token])
    .then((logits) => (logits.every(Number.isFinite) ? null : 'the first run produced non-finite logits'))
    .catch((err: unknown) => `the first run failed: ${message(err)}`);
  decoder.reset();
  if (failure === null) return created;
  if (decoder.backend.name === 'wasm' || device === 'webgpu') {
    throw new SlmError(`${failure} on ${decoder.backend.name}`, { details: { backend: decoder.backend.name as Backend } });
  }
  await decoder.release().catch(() => {});
  throwIfAborted(signal, 'loading the model');
  return { decoder: await wasmDecoder(), backendReason: `WebGPU ${failure}; fell back to WASM`, fellBack: true };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
