/**
 * One model → one Hub-layout folder: config, tokenizer, ONNX per dtype and a manifest listing every
 * file's bytes and SHA-256. Output is a pure function of the inputs (no timestamps, fixed key order),
 * so rebuilding from the same source is byte-identical. Folders are written beside the target and
 * renamed into place, so a failed build never leaves a half-written model.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { checkpointModel, type Checkpoint } from './llama2c/checkpoint.ts';
import type { Llama2cVocab } from './llama2c/tokenizer-bin.ts';
import { buildTokenizerConfig, buildTokenizerJson } from './hf/tokenizer.ts';
import { buildGguf, type GgufDtype } from './gguf/writer.ts';
import { architecture } from './architectures/index.ts';
import type { GraphOptions } from './onnx/llama.ts';
import { buildBertGraph } from './onnx/bert.ts';
import type { DecoderModel } from './spec.ts';
import type { BertShape, BertWeights } from './bert/weights.ts';
import { buildBertConfig, buildBertTokenizerConfig, buildWordPieceTokenizerJson } from './hf/bert.ts';
import { dtypePath, type Manifest, type ManifestFile } from '../src/model-format.ts';
import { LORA_TARGETS, TRAINING_GRAPH, trainableLayers } from '../src/training/adapter.ts';
import { buildLlamaTrainingGraph } from './onnx/llama-train.ts';
import { QUANTIZATION, type WeightDtype } from './onnx/linear.ts';
import { PROJECT_ROOT, sha256Hex } from './sources.ts';

export const CONVERTER_NAME = 'browser-slm-models';
export const CONVERTER_VERSION = '1.0.0';
export const ALL_DTYPES: WeightDtype[] = ['fp32', 'q8', 'q4'];

export type { Manifest, ManifestFile } from '../src/model-format.ts';

export interface ConvertInput {
  id: string;
  model: DecoderModel;
  /** Tokenizer files by name (tokenizer.json, tokenizer_config.json), as JSON. */
  tokenizer: Record<string, object>;
  source: Manifest['source'];
  dtypes?: WeightDtype[];
  graph?: GraphOptions;
  /** GGUF exports for llama.cpp-based runtimes, which carry the llama2.c vocabulary. */
  gguf?: { vocab: Llama2cVocab; dtypes: GgufDtype[] };
}

/** A llama2.c checkpoint and vocabulary, with GGUF exports (default F32 and Q8_0). */
export function llama2cInput(id: string, checkpoint: Checkpoint, vocab: Llama2cVocab, source: Manifest['source'], gguf: GgufDtype[] = ['F32', 'Q8_0']): ConvertInput {
  return {
    id,
    model: checkpointModel(checkpoint),
    tokenizer: { 'tokenizer.json': buildTokenizerJson(vocab), 'tokenizer_config.json': buildTokenizerConfig(checkpoint.shape.seqLen) },
    source,
    gguf: { vocab, dtypes: gguf },
  };
}

/** A BERT-family encoder (feature extraction): weights, tokenizer and where they came from. */
export interface EncoderInput {
  id: string;
  shape: BertShape;
  weights: BertWeights;
  /** A WordPiece vocabulary to write the tokenizer files from, or a real model's own files, copied unchanged. */
  tokenizer: { vocab: string[] } | { tokenizerJson: Uint8Array; tokenizerConfig: Uint8Array };
  source: Manifest['source'];
  dtypes?: WeightDtype[];
}

export const GGUF_FILES: Record<GgufDtype, string> = { F32: 'gguf/model-f32.gguf', Q8_0: 'gguf/model-q8_0.gguf' };

/** Hash of the converter's own code: any change to it makes existing outputs stale. */
export function converterCodeHash(): string {
  const root = join(PROJECT_ROOT, 'models');
  const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).sort();
  const h = createHash('sha256');
  for (const f of files) h.update(`${f}\0`).update(readFileSync(join(root, f)));
  return h.digest('hex').slice(0, 16);
}

const json = (value: object): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);

export function convertModel(input: ConvertInput): Map<string, Uint8Array> {
  const { spec } = input.model;
  const arch = architecture(spec.architecture, input.id);
  const files = new Map<string, Uint8Array>([
    ['config.json', json(arch.config(spec))],
    ['generation_config.json', json(arch.generationConfig(spec))],
    ...Object.entries(input.tokenizer).map(([name, value]): [string, Uint8Array] => [name, json(value)]),
  ]);
  const dtypes: Manifest['dtypes'] = {};
  for (const dtype of input.dtypes ?? ALL_DTYPES) {
    const built = arch.graph(input.model, dtype, CONVERTER_VERSION, input.graph);
    const file = dtypePath(dtype);
    files.set(file, built.bytes);
    dtypes[dtype] = {
      file,
      attention: built.attention,
      nodes: built.nodeCount,
      linearWeightBytes: built.linearWeightBytes,
      quantization: built.quantization ?? QUANTIZATION[dtype],
    };
  }
  if (spec.architecture === 'llama') files.set(TRAINING_GRAPH, buildLlamaLoraTrainingGraph(input.model));
  for (const dtype of input.gguf?.dtypes ?? []) files.set(GGUF_FILES[dtype], buildGguf(input.model, input.gguf!.vocab, dtype, input.id));
  return withManifest(files, input.id, 'decoder', input.source, dtypes);
}

/** The folder's LoRA training graph (src/training/adapter.ts says what it holds). */
export function buildLlamaLoraTrainingGraph(model: DecoderModel): Uint8Array {
  const lora = { rank: 1, alpha: 1, layers: trainableLayers(model.spec.nLayers), targets: [...LORA_TARGETS] };
  return buildLlamaTrainingGraph(model, lora, CONVERTER_VERSION, { frozenPrefix: 'input', symbolicRank: true }).bytes;
}

export function convertEncoder(input: EncoderInput): Map<string, Uint8Array> {
  const t = input.tokenizer;
  const files = new Map<string, Uint8Array>([
    ['config.json', json(buildBertConfig(input.shape))],
    ['tokenizer.json', 'vocab' in t ? json(buildWordPieceTokenizerJson(t.vocab)) : t.tokenizerJson],
    ['tokenizer_config.json', 'vocab' in t ? json(buildBertTokenizerConfig(input.shape.maxPositions)) : t.tokenizerConfig],
  ]);
  const dtypes: Manifest['dtypes'] = {};
  for (const dtype of input.dtypes ?? ALL_DTYPES) {
    const built = buildBertGraph(input.shape, input.weights, dtype, CONVERTER_VERSION);
    const file = dtypePath(dtype);
    files.set(file, built.bytes);
    const quantization = dtype === 'fp32' ? QUANTIZATION[dtype] : `${QUANTIZATION[dtype]}; word embeddings int8, symmetric per row`;
    dtypes[dtype] = { file, attention: 'MatMul', nodes: built.nodeCount, linearWeightBytes: built.linearWeightBytes, quantization };
  }
  return withManifest(files, input.id, 'encoder', input.source, dtypes);
}

/** Adds manifest.json: every file's bytes and SHA-256, and a revision derived from them. */
function withManifest(files: Map<string, Uint8Array>, id: string, kind: Manifest['kind'], source: Manifest['source'], dtypes: Manifest['dtypes']): Map<string, Uint8Array> {
  const listed: Record<string, ManifestFile> = {};
  for (const [path, bytes] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    listed[path] = { bytes: bytes.byteLength, sha256: sha256Hex(bytes) };
  }
  const revision = sha256Hex(new TextEncoder().encode(Object.entries(listed).map(([p, f]) => `${p} ${f.sha256}`).join('\n'))).slice(0, 16);
  const manifest: Manifest = {
    schema: 1,
    id,
    kind,
    revision,
    converter: { name: CONVERTER_NAME, version: CONVERTER_VERSION, codeHash: converterCodeHash() },
    source,
    dtypes,
    files: listed,
    totalBytes: Object.values(listed).reduce((n, f) => n + f.bytes, 0),
  };
  files.set('manifest.json', json(manifest));
  return files;
}

/** Writes the folder next to its target, then swaps it in; on any error nothing is left behind. */
export function writeModelFolder(outRoot: string, id: string, files: Map<string, Uint8Array>): string {
  const target = join(outRoot, id);
  const staging = join(outRoot, `.${id}.staging-${process.pid}`);
  const retired = join(outRoot, `.${id}.old-${process.pid}`);
  mkdirSync(outRoot, { recursive: true });
  try {
    for (const [path, bytes] of files) {
      const full = join(staging, path);
      if (relative(staging, full).startsWith('..')) throw new Error(`refusing to write outside the model folder: ${path}`);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, bytes);
    }
    rmSync(retired, { recursive: true, force: true });
    try {
      renameSync(target, retired);
    } catch {
      // no previous version
    }
    renameSync(staging, target);
    rmSync(retired, { recursive: true, force: true });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

/** models/index.json lists the folders that hold a built model, for pickers such as the demo's. */
export function writeModelIndex(outRoot: string): void {
  const models = readdirSync(outRoot, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => readManifest(join(outRoot, d.name)))
    .filter((m): m is Manifest => m !== null)
    .map((m) => ({ id: m.id, kind: m.kind, revision: m.revision, dtypes: Object.keys(m.dtypes), totalBytes: m.totalBytes }))
    .sort((a, b) => a.id.localeCompare(b.id));
  writeFileSync(join(outRoot, 'index.json'), `${JSON.stringify({ models }, null, 2)}\n`);
}

export function readManifest(folder: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

/** Why a built folder no longer matches what the converter would write now; null when it is current. */
export function staleReason(folder: string, expectedSource: Manifest['source']['files']): string | null {
  const manifest = readManifest(folder);
  if (!manifest) return 'not built yet';
  if (manifest.converter.codeHash !== converterCodeHash()) return 'the converter changed';
  if (JSON.stringify(manifest.source.files) !== JSON.stringify(expectedSource)) return 'the source changed';
  for (const [path, f] of Object.entries(manifest.files)) {
    try {
      if (readFileSync(join(folder, path)).byteLength !== f.bytes) return `${path} has the wrong size`;
    } catch {
      return `${path} is missing`;
    }
  }
  return null;
}
