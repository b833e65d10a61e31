/**
 * Hub encoder models (BERT, MiniLM, …): transformers.js's feature-extraction pipeline, fed the files
 * the loader already fetched, verified and cached (it never fetches them itself).
 */
import { pipeline, type FeatureExtractionPipeline, type PreTrainedTokenizer } from '@huggingface/transformers';
import { ContextOverflowError, InvalidArgumentError } from '../errors.ts';
import type { Dtype } from '../model-format.ts';
import type { TransformersCache } from '../storage/transformers-cache.ts';
import type { Backend } from '../types.ts';
import { setTransformersThreads } from './backends/ort-env.ts';
import type { ModelConfig } from './load/fetch-files.ts';

/** model_type values of encoder-only architectures transformers.js runs for feature extraction. */
const ENCODER_TYPES = new Set(['bert', 'roberta', 'xlm-roberta', 'distilbert', 'mpnet', 'electra', 'albert', 'camembert', 'deberta', 'deberta-v2', 'modernbert', 'nomic_bert', 'jina_bert', 'esm']);

export function isEncoderConfig(config: Pick<ModelConfig, 'model_type' | 'architectures'>): boolean {
  return ENCODER_TYPES.has(config.model_type ?? '') && !(config.architectures ?? []).some((a) => /ForCausalLM$|LMHeadModel$/.test(a));
}

export interface EncoderSpec {
  baseUrl: string;
  dtype: Dtype;
  config: ModelConfig;
  /** Every file transformers.js will ask for, by path below baseUrl. */
  files: Map<string, Uint8Array>;
  device: Backend;
  threads: number;
  adapter?: string;
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

  /** The pipeline on one backend (the backend policy in load/open-model.ts chooses which). */
  static async open(cache: TransformersCache, spec: EncoderSpec): Promise<Encoder> {
    const threads = spec.device === 'wasm' ? setTransformersThreads(spec.threads) : 1;
    const files = new Map([...spec.files].map(([path, bytes]) => [spec.baseUrl + path, bytes]));
    const extractor = await cache.serving(files, () => pipeline('feature-extraction', spec.baseUrl, { dtype: spec.dtype, device: spec.device }));
    const backend = { name: spec.device, threads, ...(spec.adapter && { adapter: spec.adapter }) };
    return new Encoder(extractor as FeatureExtractionPipeline, backend, spec.config.max_position_embeddings ?? 512, spec.config.vocab_size ?? 0);
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

