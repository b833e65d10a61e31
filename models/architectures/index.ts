/**
 * The architecture registry: each entry turns a neutral DecoderSpec + weights into the ONNX graph
 * and the Hugging Face config for it, and reads its hyper-parameters from GGUF metadata. A new
 * architecture is one module beside llama.ts plus one line in ARCHITECTURES.
 */
import type { GgufFile } from '../gguf/reader.ts';
import type { BuiltGraph, GraphOptions } from '../onnx/llama.ts';
import type { WeightDtype } from '../onnx/linear.ts';
import type { DecoderModel, DecoderSpec } from '../spec.ts';
import { GEMMA3 } from './gemma3.ts';
import { LLAMA } from './llama.ts';

export interface Architecture {
  graph(model: DecoderModel, dtype: WeightDtype, producerVersion: string, options?: GraphOptions): BuiltGraph;
  /** config.json (what transformers.js reads to run the graph). */
  config(spec: DecoderSpec): object;
  generationConfig(spec: DecoderSpec): object;
  /** The spec from a GGUF file's `<architecture>.*` metadata. */
  ggufSpec(file: GgufFile, vocabSize: number, label: string): DecoderSpec;
}

export const ARCHITECTURES: Record<string, Architecture> = {
  llama: LLAMA,
  gemma3: GEMMA3,
};

export class UnsupportedArchitectureError extends Error {
  override name = 'UnsupportedArchitectureError';
}

export function architecture(name: string, where: string): Architecture {
  const arch = ARCHITECTURES[name];
  if (!arch) throw new UnsupportedArchitectureError(`${where}: architecture "${name}" is not supported (supported: ${Object.keys(ARCHITECTURES).join(', ')})`);
  return arch;
}
