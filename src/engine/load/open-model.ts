/**
 * Step two of a load: a model from its verified bytes. The manifest's kind (config.json for a Hub repo
 * without one) says decoder or encoder; the backend policy picks WebGPU or WASM for either, and a
 * decoder keeps the means to move to WASM later if a WebGPU run fails.
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import type { RuntimeEnv } from '../../env.ts';
import { InvalidModelFileError, SlmError, throwIfAborted } from '../../errors.ts';
import type { Dtype, ModelKind } from '../../model-format.ts';
import type { TransformersCache } from '../../storage/transformers-cache.ts';
import type { Backend, DeviceRequest, KvCacheLimits } from '../../types.ts';
import type { ExecutionBackend } from '../backends/types.ts';
import { webgpuDtypeProblem } from '../backends/dtype.ts';
import { BackendUnusable, chooseBackend, errorMessage, type Candidate } from '../backends/policy.ts';
import { wasmBackend } from '../backends/wasm.ts';
import { probeWebGpu, webgpuBackend, type WebGpuProbe } from '../backends/webgpu.ts';
import { Encoder, isEncoderConfig } from '../encoder.ts';
import { Decoder, type DecoderShape } from '../generation/decoder.ts';
import { loraGraphShape, withLoraInputs } from '../../training/lora-graph.ts';
import { CONFIG, TOKENIZER, TOKENIZER_CONFIG, type ModelConfig, type ModelFiles } from './fetch-files.ts';
import type { LoadedDecoder, LoadedEncoder, LoadedModel } from './loaded.ts';
import type { LoadProgress } from './progress.ts';

export interface OpenOptions {
  device: DeviceRequest;
  threads: number;
  kvCache: KvCacheLimits;
  /** Why the files' dtype was chosen (the dtype policy), for ModelInfo. */
  dtypeReason: string;
  signal?: AbortSignal;
}

/** Where models get their execution backends and the WebGPU probe (fakes in Node tests of the policy). */
export interface ModelBackends {
  probe(largestTensorBytes: number): Promise<WebGpuProbe>;
  wasm(): Promise<ExecutionBackend>;
  webgpu(probe: Extract<WebGpuProbe, { ok: true }>): Promise<ExecutionBackend>;
}

export function ortBackends(env: RuntimeEnv, threads: number): ModelBackends {
  return { probe: probeWebGpu, wasm: () => wasmBackend(env, threads), webgpu: (probe) => webgpuBackend(env, probe) };
}

/**
 * Work that can start as soon as config.json is known, while the weights download: the decoder's
 * shape check, the WebGPU probe and ORT's WASM start-up (fetching and compiling its 14 MB module:
 * most of a warm load).
 */
export interface Preparation {
  kind: ModelKind;
  shape: DecoderShape | null;
  probe: Promise<WebGpuProbe> | null;
}

export function prepareOpen(backends: ModelBackends, config: ModelConfig, manifestKind: ModelKind | null, baseUrl: string, opts: OpenOptions): Preparation {
  const kind = manifestKind ?? (isEncoderConfig(config) ? 'encoder' : 'decoder');
  if (kind === 'encoder') return { kind, shape: null, probe: null };
  const shape = decoderShape(config, baseUrl);
  const probe = opts.device !== 'wasm' ? backends.probe(largestTensorBytes(shape)) : null;
  void (probe ?? Promise.resolve(null))
    .then((p) => (p?.ok || opts.device === 'webgpu' ? null : backends.wasm()))
    .catch(() => {}); // a failure surfaces where the backend is awaited
  return { kind, shape, probe };
}

export async function openModel(
  backends: ModelBackends,
  transformers: TransformersCache,
  files: ModelFiles,
  prepared: Preparation,
  opts: OpenOptions,
  progress: LoadProgress,
): Promise<LoadedModel> {
  throwIfAborted(opts.signal, `loading ${files.model}`);
  progress.emit({ phase: 'compile' });
  return prepared.shape ? openDecoder(backends, files, prepared.shape, prepared.probe, opts, progress) : openEncoder(backends, transformers, files, opts);
}

async function openDecoder(backends: ModelBackends, files: ModelFiles, shape: DecoderShape, probe: Promise<WebGpuProbe> | null, opts: OpenOptions, progress: LoadProgress): Promise<LoadedDecoder> {
  const parse = (path: string): object => JSON.parse(new TextDecoder().decode(files.files.get(path)!)) as object;
  const tokenizer = new PreTrainedTokenizer(parse(TOKENIZER), parse(TOKENIZER_CONFIG));
  const eos = files.config.eos_token_id ?? tokenizer.eos_token_id;
  const eosIds = new Set<number>((Array.isArray(eos) ? eos : [eos]).filter((v): v is number => typeof v === 'number'));
  const warmupToken = tokenizer.bos_token_id ?? 0;
  // Llama graphs get LoRA inputs, so that adapters run on this one session (src/training/lora-graph.ts):
  // the backend adds them to the graph alone, without copying the weights.
  const loraShape = loraGraphShape(files.config);
  const withLora = loraShape ? (graph: Uint8Array): Uint8Array | null => withLoraInputs(graph, loraShape) : undefined;
  const weightBytes = files.files.get(files.onnxPath)!.byteLength;
  let onnx: Uint8Array | null = files.files.get(files.onnxPath)!;
  // After loading, the weights live only in ORT's memory (the loaded model must not keep this copy alive);
  // a later WASM fallback reads them from the store again.
  files.files.delete(files.onnxPath);
  const onnxBytes = async (): Promise<Uint8Array> => onnx ?? (await files.reread(files.onnxPath));
  // Named before the session exists, for WebGPU's output placement; the decoder checks them against the graph.
  const outputs = ['logits', ...Array.from({ length: shape.layers }, (_, l) => [`present.${l}.key`, `present.${l}.value`]).flat()];

  const started = performance.now();
  let compiled: number | null = null;
  const open = async (backend: Backend, create: () => Promise<{ decoder: Decoder; description: string }>): Promise<{ value: Decoder; description: string }> => {
    const { decoder, description } = await create();
    if (compiled === null) {
      compiled = performance.now();
      progress.emit({ phase: 'warmup' });
    }
    await firstRun(backend, description, () => decoder.step([warmupToken]), (logits) => logits.every(Number.isFinite), () => decoder.release());
    decoder.clearCache();
    return { value: decoder, description };
  };
  const wasm: Candidate<Decoder> = {
    backend: 'wasm',
    open: () =>
      open('wasm', async () => {
        const backend = await backends.wasm();
        return { decoder: new Decoder(backend, await backend.createSession(await onnxBytes(), [], { rewriteGraph: withLora }), shape, opts.kvCache), description: 'WASM was requested' };
      }),
  };
  const webgpu = (probed: Promise<WebGpuProbe>): Candidate<Decoder> => ({
    backend: 'webgpu',
    open: () =>
      open('webgpu', async () => {
        const result = usableProbe(await probed, files.dtype);
        const session = await backends.webgpu(result)
          .then(async (backend) => ({ backend, session: await backend.createSession(await onnxBytes(), outputs, { rewriteGraph: withLora }) }))
          .catch((err: unknown) => {
            throw new Error(`session creation failed (${errorMessage(err)})`, { cause: err });
          });
        return { decoder: new Decoder(session.backend, session.session, shape, opts.kvCache), description: `WebGPU adapter: ${result.description}` };
      }),
  });
  const chosen = await chooseBackend(probe ? [webgpu(probe), wasm] : [wasm], { required: opts.device === 'webgpu', ...(opts.signal && { signal: opts.signal }) });
  onnx = null;
  const warmed = performance.now();
  progress.emit({ phase: 'ready' });

  const loaded: LoadedDecoder = {
    kind: 'decoder',
    url: files.baseUrl,
    dtype: files.dtype,
    dtypeReason: opts.dtypeReason,
    tokenizer,
    decoder: chosen.value,
    eosIds,
    readFile: (path, signal) => files.reread(path, signal),
    backendReason: chosen.reason,
    fellBack: chosen.fellBack,
    weightBytes,
    storage: files.storage,
    timings: { fetchMs: 0, compileMs: (compiled ?? warmed) - started, warmupMs: warmed - (compiled ?? warmed), totalMs: 0 },
    async fallBack(message: string) {
      const old = loaded.decoder;
      if (old.backend.name === 'wasm') return;
      const next = await chooseBackend([wasm], { earlier: [{ backend: old.backend.name, kind: 'failed', message }] });
      loaded.decoder = next.value;
      loaded.backendReason = next.reason;
      loaded.fellBack = next.fellBack;
      await old.release().catch(() => {});
    },
  };
  chosen.value.backend.onLost((message) => void loaded.fallBack(message).catch(() => {}));
  return loaded;
}

async function openEncoder(backends: ModelBackends, transformers: TransformersCache, files: ModelFiles, opts: OpenOptions): Promise<LoadedEncoder> {
  const started = performance.now();
  const { config } = files;
  const contextLength = config.max_position_embeddings ?? 512;
  const open = (backend: Backend, description: string, adapter?: string) => async (): Promise<{ value: Encoder; description: string }> => {
    const encoder = await Encoder.open(transformers, { ...files, device: backend, threads: opts.threads, ...(adapter && { adapter }) }).catch((err: unknown) => {
      throw new Error(`session creation failed (${errorMessage(err)})`, { cause: err });
    });
    await firstRun(backend, description, () => encoder.embed('warm up'), (v) => v.every(Number.isFinite), () => encoder.release());
    return { value: encoder, description };
  };
  const wasm: Candidate<Encoder> = { backend: 'wasm', open: open('wasm', 'WASM was requested') };
  const webgpu: Candidate<Encoder> = {
    backend: 'webgpu',
    open: async () => {
      const probe = usableProbe(await backends.probe(contextLength * (config.hidden_size ?? 0) * 4), files.dtype);
      return open('webgpu', `WebGPU adapter: ${probe.description}`, probe.description)();
    },
  };
  const chosen = await chooseBackend(opts.device === 'wasm' ? [wasm] : [webgpu, wasm], { required: opts.device === 'webgpu', ...(opts.signal && { signal: opts.signal }) });
  const ready = performance.now();
  return {
    kind: 'encoder',
    url: files.baseUrl,
    dtype: files.dtype,
    dtypeReason: opts.dtypeReason,
    tokenizer: chosen.value.tokenizer,
    encoder: chosen.value,
    backendReason: chosen.reason,
    fellBack: chosen.fellBack,
    weightBytes: files.files.get(files.onnxPath)!.byteLength,
    storage: files.storage,
    // Session creation and the validating first run happen together inside the pipeline.
    timings: { fetchMs: 0, compileMs: ready - started, warmupMs: 0, totalMs: 0 },
  };
}

/** The probe's adapter, if WebGPU can run `dtype` on it; else BackendUnusable saying why (no adapter, no shader-f16 for float16 weights). */
function usableProbe(probe: WebGpuProbe, dtype: Dtype): Extract<WebGpuProbe, { ok: true }> {
  if (!probe.ok) throw new BackendUnusable(probe.reason);
  const problem = webgpuDtypeProblem(dtype, probe);
  if (problem) throw new BackendUnusable(problem);
  return probe;
}

/** One real run validates a backend: a run that throws or gives non-finite values means the next one. */
async function firstRun<T>(backend: Backend, description: string, run: () => Promise<T>, finite: (out: T) => boolean, release: () => Promise<void>): Promise<void> {
  let failure: string | null = null;
  try {
    if (!finite(await run())) failure = 'first run produced non-finite values';
  } catch (err) {
    failure = `first run failed (${errorMessage(err)})`;
  }
  if (failure === null) return;
  await release().catch(() => {});
  throw new SlmError(failure, { details: { backend, description } });
}

/** The largest buffer a decoding step binds: the logits, or a layer's KV cache at full context. */
function largestTensorBytes(shape: DecoderShape): number {
  return Math.max(shape.vocabSize, shape.kvHeads * shape.headDim * shape.contextLength) * 4;
}

function decoderShape(config: ModelConfig, baseUrl: string): DecoderShape {
  const heads = config.num_attention_heads ?? NaN;
  const shape: DecoderShape = {
    layers: config.num_hidden_layers ?? NaN,
    kvHeads: config.num_key_value_heads ?? heads,
    headDim: config.head_dim ?? (config.hidden_size ?? NaN) / heads,
    vocabSize: config.vocab_size ?? NaN,
    contextLength: config.max_position_embeddings ?? 2048,
  };
  for (const [k, v] of Object.entries(shape)) {
    if (!Number.isInteger(v) || v <= 0) throw new InvalidModelFileError(`${baseUrl}${CONFIG}: ${k} is ${v}; is this a decoder LLM config?`);
  }
  return shape;
}
