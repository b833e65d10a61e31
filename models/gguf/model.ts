/**
 * A GGUF file as a neutral DecoderModel: the architecture named in `general.architecture` reads its
 * hyper-parameters, and weights are dequantized on demand (float32, GGUF's [out, in] row-major order,
 * which is the spec's) so a 250 MB file never needs all its float copies at once.
 */
import { architecture } from '../architectures/index.ts';
import type { DecoderModel, DecoderWeights } from '../spec.ts';
import { transcodeBlocks } from './transcode.ts';
import { dequantize } from './dequantize.ts';
import { GGML_TYPES, GgufError, readGguf, tensorBytes, type GgufFile, type GgufTensorInfo } from './reader.ts';

export function ggufModel(bytes: Uint8Array, label = 'GGUF file'): { model: DecoderModel; file: GgufFile } {
  const file = readGguf(bytes, label);
  const arch = file.metadata['general.architecture'];
  if (typeof arch !== 'string') throw new GgufError(`${label}: general.architecture is missing`);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const embedding = byName.get('token_embd.weight');
  if (!embedding || embedding.dims.length !== 2) throw new GgufError(`${label}: no 2-D token_embd.weight tensor`);
  const spec = architecture(arch, label).ggufSpec(file, embedding.dims[1]!, label);
  const tensor = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (!t) throw new GgufError(`${label}: no tensor ${name}`);
    return t;
  };
  const weights: DecoderWeights = {
    get: (name) => dequantize(tensor(name), tensorBytes(bytes, file, tensor(name))),
    blocks: (name, maxBits) => transcodeBlocks(tensor(name), tensorBytes(bytes, file, tensor(name)), maxBits),
    sourceBitsPerValue(name) {
      const [, values, blockBytes] = GGML_TYPES[tensor(name).type]!;
      return (blockBytes * 8) / values;
    },
  };
  return { model: { spec, weights }, file };
}
