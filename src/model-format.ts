/**
 * The model-folder format (Hub layout) shared by the converter in models/ and the runtime in src/:
 * the manifest listing every file, the weight dtypes and their file names, and the model kinds.
 * Plain data and types only, so both Node and the browser import it.
 */

/** Weight precisions a model folder may hold, in the transformers.js naming (q4f16: 4-bit weights, float16 activations and KV cache, for WebGPU). */
export type Dtype = 'fp32' | 'q8' | 'q4' | 'q4f16';
export const DTYPES: readonly Dtype[] = ['fp32', 'q8', 'q4', 'q4f16'];

/** 'decoder': a causal LM that generates; 'encoder': an encoder-only model for feature extraction. */
export type ModelKind = 'decoder' | 'encoder';

/** Folder holding the ONNX files. */
export const ONNX_DIR = 'onnx';
/** File names of each dtype inside ONNX_DIR (the transformers.js convention). */
export const DTYPE_FILES: Record<Dtype, string> = { fp32: 'model.onnx', q8: 'model_quantized.onnx', q4: 'model_q4.onnx', q4f16: 'model_q4f16.onnx' };

/** Path of a dtype's ONNX file below the model folder. */
export function dtypePath(dtype: Dtype): string {
  return `${ONNX_DIR}/${DTYPE_FILES[dtype]}`;
}

export interface ManifestFile {
  bytes: number;
  sha256: string;
}

export interface ManifestDtype {
  file: string;
  attention: string;
  nodes: number;
  linearWeightBytes: number;
  quantization: string;
}

/** manifest.json: what a converted folder holds, with every file's size and SHA-256. */
export interface Manifest {
  schema: 1;
  id: string;
  kind: ModelKind;
  /** Short content hash of all files: changes whenever any file changes; a cache key for revisions. */
  revision: string;
  converter: { name: string; version: string; codeHash: string };
  source: { format: string; provenance: string; license: string; files: Array<{ url?: string; sha256: string; bytes: number }> };
  dtypes: Partial<Record<Dtype, ManifestDtype>>;
  files: Record<string, ManifestFile>;
  totalBytes: number;
}

/**
 * A manifest as the runtime reads it from a server or the cache: any field may be missing (older
 * converters, hand-written folders), so every read is optional.
 */
export type ServedManifest = Partial<Pick<Manifest, 'revision' | 'kind' | 'files' | 'dtypes'>>;
