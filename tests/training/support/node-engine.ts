/**
 * An Engine whose models load from a converted folder through the real open step (LoRA inputs added, the
 * backend policy) with onnxruntime-node standing in for onnxruntime-web's WASM build (the same session
 * API), and whose training graph is downloaded from `baseUrl` (verified, not cached). Counts the ORT sessions made.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ExecutionBackend, InferenceSession, SessionOptions } from '../../../src/engine/backends/types.ts';
import { Engine, type ModelLoader } from '../../../src/engine/engine.ts';
import type { ModelConfig, ModelFiles } from '../../../src/engine/load/fetch-files.ts';
import { openModel, prepareOpen, type ModelBackends } from '../../../src/engine/load/open-model.ts';
import { LoadProgress } from '../../../src/engine/load/progress.ts';
import { dtypePath, type Dtype } from '../../../src/model-format.ts';
import { download, MemorySink } from '../../../src/storage/download.ts';

export const sessions = { created: 0 };

const backends: ModelBackends = {
  probe: async () => ({ ok: false, reason: 'no WebGPU in Node' }),
  wasm: async () =>
    ({
      name: 'wasm',
      ort,
      threads: 1,
      createSession: async (bytes: Uint8Array, _outputs: string[], { rewriteGraph }: SessionOptions = {}) =>
        (sessions.created++, (await ort.InferenceSession.create(rewriteGraph?.(bytes) ?? bytes, { intraOpNumThreads: 1 })) as unknown as InferenceSession),
      onLost: () => {},
    }) as unknown as ExecutionBackend,
  webgpu: async () => {
    throw new Error('no WebGPU in Node');
  },
};

/** A loader that opens `folder` (config, tokenizer and the dtype's ONNX file from disk) as served from `baseUrl`. */
export function folderLoader(folder: string, baseUrl: string, dtype: Dtype): ModelLoader {
  return async (_env, _cache, transformers) => {
    const read = (path: string): Uint8Array => new Uint8Array(readFileSync(join(folder, path)));
    const onDisk = ['config.json', 'tokenizer.json', 'tokenizer_config.json', dtypePath(dtype)];
    const files = new Map(onDisk.map((p) => [p, read(p)]));
    const served: ModelFiles = {
      model: folder,
      baseUrl,
      dtype,
      config: JSON.parse(new TextDecoder().decode(files.get('config.json'))) as ModelConfig,
      kind: 'decoder',
      files,
      onnxPath: dtypePath(dtype),
      storage: { persistent: false, revision: 'test' },
      // The load's own files again from disk; any other (the training graph) downloaded from baseUrl, verified by download().
      reread: async (path, signal) =>
        onDisk.includes(path) ? read(path) : (await download(`${baseUrl}${path}`, { path, kind: 'onnx' }, new MemorySink(2 ** 22), { ...(signal && { signal }) })).bytes,
    };
    const open = { device: 'wasm' as const, threads: 1, kvCache: { maxSequences: 4, maxBytes: 2 ** 27 }, dtypeReason: `${dtype} was requested` };
    return openModel(backends, transformers, served, prepareOpen(backends, served.config, served.kind, served.baseUrl, open), open, new LoadProgress());
  };
}

export async function loadedEngine(loader: ModelLoader): Promise<{ engine: Engine; handle: string }> {
  const engine = new Engine(loader);
  const { handle } = await engine.load('model', { device: 'wasm' });
  return { engine, handle };
}
