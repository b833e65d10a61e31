/**
 * create session → run task for Hub encoder models (BERT, MiniLM, …): transformers.js's feature-extraction
 * pipeline, fed the files the loader already fetched, verified and cached (it never fetches them
 * itself), on WebGPU when the probe and a first run succeed and on WASM otherwise.
 */
import { env as transformersEnv, pipeline, type FeatureExtractionPipeline, type PreTrainedTokenizer } from '@huggingface/transformers';
import { BackendUnavailableError, ContextOverflowError, InvalidArgumentError, SlmError, throwIfAborted } from '../errors.ts';
import type { TransformersCache } from '../storage/transformers-cache.ts';
import type { Backend, DeviceRequest, Dtype } from '../types.ts';
import { usableThreads } from './backends/wasm.ts';
import { probeWebGpu } from './backends/webgpu.ts';

/** model_type values of encoder-only architectures transformers.js runs for feature extraction. */
const ENCODER_TYPES = new Set(['bert', 'roberta', 'xlm-roberta', 'distilbert', 'mpnet', 'electra', 'albert', 'camembert', 'deberta', 'deberta-v2', 'modernbert', 'nomic_bert', 'jina_bert', 'esm']);

export interface EncoderConfig {
  model_type?: string;
  architectures?: string[];
  hidden_size?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
}

export function isEncoderConfig(config: EncoderConfig): boolean {
  return ENCODER_TYPES.has(config.model_type ?? '') && !(config.architectures ?? []).some((a) => /ForCausalLM$|LMHeadModel$/.test(a));
}

export interface EncoderSpec {
  baseUrl: string;
  dtype: Dtype;
  device: DeviceRequest;
  threads: number;
  config: EncoderConfig;
  /** Every file transformers.js will ask for, by path below baseUrl. */
  files: Map<string, Uint8Array>;
  signal?: AbortSignal;
}

export interface CreatedEncoder {
  encoder: Encoder;
  backendReason: string;
  fellBack: boolean;
}

export class Encoder {
  private constructor(
    private readonly extractor: FeatureExtractionPipeline,
    readonly backend: { name: Backend; threads: number; adapter?: string },
    readonly contextLength: number,
    readonly vocabSize: number,
  ) {}

  get tokenizer(): PreTrainedTokenizer {
    return this.extractor.tokenizer;
  }

  static async create(cache: TransformersCache, spec: EncoderSpec): Promise<CreatedEncoder> {
    const { config } = spec;
    const contextLength = config.max_position_embeddings ?? 512;
    const open = async (device: Backend, adapter?: string): Promise<Encoder> => {
      const threads = device === 'wasm' ? usableThreads(spec.threads) : 1;
      const onnx = transformersEnv.backends.onnx as { wasm?: { numThreads?: number } };
      // Takes effect only if this ORT instance has not started yet (ORT fixes threads at start-up).
      if (onnx.wasm) onnx.wasm.numThreads = threads;
      const files = new Map([...spec.files].map(([path, bytes]) => [spec.baseUrl + path, bytes]));
      const extractor = await cache.serving(files, () => pipeline('feature-extraction', spec.baseUrl, { dtype: spec.dtype, device }));
      const encoder = new Encoder(extractor as FeatureExtractionPipeline, { name: device, threads, ...(adapter && { adapter }) }, contextLength, config.vocab_size ?? 0);
      // One real run validates the backend, as for decoders.
      const probe = await encoder.embed('warm up').catch((err: unknown) => {
        void encoder.release();
        throw err;
      });
      if (!probe.every(Number.isFinite)) {
        await encoder.release();
        throw new SlmError(`the first run on ${device} produced non-finite values`);
      }
      return encoder;
    };

    let reason = 'WASM was requested';
    let fellBack = false;
    if (spec.device !== 'wasm') {
      const probe = await probeWebGpu(contextLength * (config.hidden_size ?? 0) * 4);
      if (!probe.ok) {
        if (spec.device === 'webgpu') throw new BackendUnavailableError(`WebGPU was requested but ${probe.reason}`);
        reason = `WebGPU unavailable (${probe.reason}); using WASM`;
      } else {
        try {
          return { encoder: await open('webgpu', probe.description), backendReason: `WebGPU adapter: ${probe.description}`, fellBack: false };
        } catch (err) {
          if (spec.device === 'webgpu') throw new BackendUnavailableError(`WebGPU failed for this encoder: ${message(err)}`, { cause: err });
          reason = `WebGPU failed (${message(err)}); fell back to WASM`;
          fellBack = true;
        }
      }
    }
    throwIfAborted(spec.signal, 'loading the model');
    return { encoder: await open('wasm'), backendReason: reason, fellBack };
  }

  /** Mean-pooled, L2-normalised last hidden states (the sentence-transformers convention). */
  async embed(text: string): Promise<Float32Array> {
    if (typeof text !== 'string' || text.trim() === '') throw new InvalidArgumentError('each text must be a non-empty string');
    const tokens = this.tokenizer.encode(text).length;
    // The pipeline would silently truncate; a caller should know that the end of the text was ignored.
    if (tokens > this.contextLength) throw new ContextOverflowError(`a text is ${tokens} tokens; the context is ${this.contextLength}`, { details: { tokens, contextLength: this.contextLength } });
    const out = await this.extractor(text, { pooling: 'mean', normalize: true });
    return (out.data as Float32Array).slice();
  }

  async release(): Promise<void> {
    await this.extractor.dispose();
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
