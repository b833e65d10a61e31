/**
 * npm run models [-- options]
 *   (no options)              build the bundled models into public/models: stories260k, and
 *                             encoder-tiny (a random-weight BERT in bert-tiny's shape, for the Hub encoder path)
 *   --if-stale                only rebuild what is missing or out of date (run before dev, build, test)
 *   --synthetic <preset>      also build a synthetic model: llama-15m, llama-110m (repeatable)
 *   <id> ...                  convert these real GGUF models (gemma3-270m: not built by default, ~1.9 GB of ONNX in 1-5 min)
 *   --checkpoint <file> --tokenizer <file> --id <name>
 *                             convert any llama2.c legacy checkpoint
 *   --source <dir>            look for the bundled sources here first (also SLM_SOURCE_DIR)
 *   --out <dir>               output root (default public/models)
 *   --dtype <fp32|q8|q4>      only these dtypes (repeatable; default all)
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
import { ggufModel } from './gguf/model.ts';
import { GEMMA3_270M, LLAMA2_TOKENIZER, PROJECT_ROOT, resolveSource, sha256Hex, SourceError, STORIES_260K, type GgufSource, type ResolveOptions, type SourceFile } from './sources.ts';
import { SYNTHETIC_PRESETS, syntheticCheckpoint } from './synthetic.ts';

interface BuildOptions {
  dtypes: WeightDtype[];
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
  return convertModel({ ...input, dtypes: o.dtypes, ...(o.skipGguf && { gguf: undefined }) });
};

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
        vocab,
        dtypes: o.dtypes,
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

/**
 * A GGUF model: every dtype gets the quantized embedding / tied LM head and `num_logits_to_keep`.
 * No tokenizer files yet: those come from the GGUF tokenizer converter (the real-models issue).
 */
function ggufJob(src: GgufSource, resolve: ResolveOptions): Job {
  return {
    id: src.id,
    sourceFiles: [src.gguf],
    build: decoderBuild(async () => ({
      id: src.id,
      model: ggufModel(await resolveSource(src.gguf, resolve), src.gguf.local).model,
      tokenizer: {},
      source: { format: 'gguf', provenance: src.provenance, license: src.license, files: describe([src.gguf]) },
      graph: { numLogitsToKeep: true, quantizedEmbedding: true },
    })),
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
      id: { type: 'string' },
      source: { type: 'string' },
      out: { type: 'string', default: join(PROJECT_ROOT, 'public', 'models') },
      dtype: { type: 'string', multiple: true, default: [] },
      'skip-gguf': { type: 'boolean', default: false },
    },
  });
  const resolve: ResolveOptions = { sourceDir: values.source, log: (l) => console.log(`  ${l}`) };
  const dtypes = values.dtype.length ? values.dtype : ALL_DTYPES;
  for (const d of dtypes) {
    if (!ALL_DTYPES.includes(d as WeightDtype)) throw new CheckpointError(`unknown dtype "${d}"; choose from ${ALL_DTYPES.join(', ')}`);
  }
  const jobs: Job[] = [];
  if (values.checkpoint || values.tokenizer || values.id) {
    if (!values.checkpoint || !values.tokenizer || !values.id) throw new CheckpointError('--checkpoint, --tokenizer and --id go together');
    jobs.push(customJob(values.id, values.checkpoint, values.tokenizer));
  } else if (values.synthetic.length === 0 && positionals.length === 0) {
    jobs.push(bundledJob(resolve), encoderJob(resolve));
  }
  for (const preset of values.synthetic) jobs.push(syntheticJob(preset, resolve));
  for (const id of positionals) {
    const src = GGUF_MODELS[id];
    if (!src) throw new CheckpointError(`unknown model "${id}"; choose one of ${Object.keys(GGUF_MODELS).join(', ')}`);
    jobs.push(ggufJob(src, resolve));
  }

  for (const job of jobs) {
    const folder = join(values.out, job.id);
    const reason = job.sourceFiles.length ? staleReason(folder, describe(job.sourceFiles)) : 'custom checkpoint';
    if (values['if-stale'] && reason === null) {
      console.log(`models: ${job.id} is up to date`);
      continue;
    }
    const started = performance.now();
    console.log(`models: building ${job.id} (${values['if-stale'] ? reason : 'requested'})`);
    const files = await job.build({ dtypes: dtypes as WeightDtype[], skipGguf: values['skip-gguf'] });
    writeModelFolder(values.out, job.id, files);
    const sizes = [...files].filter(([p]) => p.endsWith('.onnx')).map(([p, b]) => `${p.replace('onnx/', '')} ${(b.byteLength / 1e6).toFixed(2)} MB`);
    console.log(`models: wrote ${folder} in ${((performance.now() - started) / 1000).toFixed(1)} s (${sizes.join(', ')})`);
  }
  writeModelIndex(values.out);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CheckpointError || err instanceof SourceError) {
    console.error(`models: ${err.message}`);
    process.exit(1);
  }
  throw err;
});
