/**
 * A fake decoder-with-past ONNX session for Node tests of the engine's policy (queue, abort, backend
 * choice, fallback): it has the inputs and outputs of our exported graphs, returns logits whose
 * argmax is a fixed function of the last input id, can wait, fail or return NaN on chosen runs, and
 * records what it was fed. ORT itself is not under test here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from 'onnxruntime-node';
import type { RuntimeEnv } from '../../../src/env.ts';
import type { ExecutionBackend, InferenceSession, Ort } from '../../../src/engine/backends/types.ts';
import type { WebGpuProbe } from '../../../src/engine/backends/webgpu.ts';
import type { ModelLoader } from '../../../src/engine/engine.ts';
import type { ModelFiles } from '../../../src/engine/load/fetch-files.ts';
import { openModel, prepareOpen, type ModelBackends } from '../../../src/engine/load/open-model.ts';
import { LoadProgress } from '../../../src/engine/load/progress.ts';
import type { Backend } from '../../../src/types.ts';
import { STORIES_DIR } from '../../support/sources.ts';

/** The fake model's rule: after token t comes (7t + 3) mod 512, which never reaches EOS (2) from the prompts used. */
export const nextToken = (t: number): number => (7 * t + 3) % 512;

/** The token ids greedy decoding must give after `promptIds` under the fake rule. */
export function expectedIds(promptIds: number[], n: number): number[] {
  const out: number[] = [];
  let last = promptIds.at(-1)!;
  for (let i = 0; i < n; i++) out.push((last = nextToken(last)));
  return out;
}

export interface SessionScript {
  /** ms each run waits (lets a test act while a generation is under way). */
  delayMs?: number;
  /** Run numbers (1-based) that throw. */
  failOn?: number[];
  /** Run numbers whose logits are NaN. */
  nanOn?: number[];
  /** Type the graph declares for its past_key_values inputs. */
  kvType?: 'float32' | 'float16';
}

export interface FedRun {
  inputIds: number[];
  pastLength: number;
  pastType: string;
}

const LAYERS = 5;
const KV_HEADS = 4;
const HEAD_DIM = 8;
const VOCAB = 512;

export class FakeSession {
  readonly runs: FedRun[] = [];
  released = false;
  readonly inputNames: string[];
  readonly outputNames: string[];
  readonly inputMetadata: InferenceSession['inputMetadata'];

  constructor(private readonly script: SessionScript = {}) {
    const past = Array.from({ length: LAYERS }, (_, l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]).flat();
    this.inputNames = ['input_ids', 'attention_mask', 'position_ids', ...past];
    this.outputNames = ['logits', ...past.map((n) => n.replace('past_key_values', 'present'))];
    const type = script.kvType ?? 'float32';
    this.inputMetadata = [
      { name: 'input_ids', isTensor: true, type: 'int64', shape: ['batch_size', 'sequence_length'] },
      { name: 'attention_mask', isTensor: true, type: 'int64', shape: ['batch_size', 'total_sequence_length'] },
      { name: 'position_ids', isTensor: true, type: 'int64', shape: ['batch_size', 'sequence_length'] },
      ...past.map((name) => ({ name, isTensor: true as const, type, shape: ['batch_size', KV_HEADS, 'past_sequence_length', HEAD_DIM] })),
    ];
  }

  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const ids = Array.from(feeds.input_ids!.data as BigInt64Array, Number);
    const past = feeds['past_key_values.0.key']!;
    this.runs.push({ inputIds: ids, pastLength: past.dims[2]!, pastType: past.type });
    const n = this.runs.length;
    if (this.script.delayMs) await new Promise((r) => setTimeout(r, this.script.delayMs));
    if (this.script.failOn?.includes(n)) throw new Error(`fake run ${n} failed`);
    const logits = new Float32Array(ids.length * VOCAB);
    ids.forEach((id, i) => (logits[i * VOCAB + nextToken(id)] = 10));
    if (this.script.nanOn?.includes(n)) logits.fill(NaN);
    const total = past.dims[2]! + ids.length;
    const out: Record<string, Tensor> = { logits: new Tensor('float32', logits, [1, ids.length, VOCAB]) };
    for (const name of this.outputNames.slice(1)) out[name] = new Tensor('float32', new Float32Array(KV_HEADS * total * HEAD_DIM), [1, KV_HEADS, total, HEAD_DIM]);
    return out;
  }

  async release(): Promise<void> {
    this.released = true;
  }
}

/** A backend whose sessions are FakeSessions following `script`. */
export function fakeBackend(name: Backend, script: SessionScript = {}): ExecutionBackend & { sessions: FakeSession[]; lose(reason: string): void } {
  const sessions: FakeSession[] = [];
  const lost: Array<(reason: string) => void> = [];
  return {
    name,
    ort: { Tensor } as unknown as Ort,
    threads: 1,
    sessions,
    async createSession() {
      const session = new FakeSession(script);
      sessions.push(session);
      return session as unknown as InferenceSession;
    },
    onLost: (listener) => lost.push(listener),
    lose: (reason) => lost.forEach((l) => l(reason)),
  };
}

export interface FakeBackends extends ModelBackends {
  webgpuBackend: ReturnType<typeof fakeBackend>;
  wasmBackend: ReturnType<typeof fakeBackend>;
}

/** WebGPU (an adapter is found unless `probe` says otherwise) and WASM, each with its own script. */
export function fakeBackends(scripts: { webgpu?: SessionScript; wasm?: SessionScript; probe?: WebGpuProbe } = {}): FakeBackends {
  const webgpuBackend = fakeBackend('webgpu', scripts.webgpu);
  const wasmBackend = fakeBackend('wasm', scripts.wasm);
  const probe: WebGpuProbe = scripts.probe ?? { ok: true, adapter: { features: { has: () => false }, limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 } }, description: 'fake adapter' };
  return { webgpuBackend, wasmBackend, probe: async () => probe, wasm: async () => wasmBackend, webgpu: async () => webgpuBackend };
}

/** stories260k's real config and tokenizer, with a placeholder for the ONNX file (the fake sessions ignore it). */
export function storiesFiles(): ModelFiles {
  const read = (path: string): Uint8Array => new Uint8Array(readFileSync(join(STORIES_DIR, path)));
  const files = new Map<string, Uint8Array>([
    ['config.json', read('config.json')],
    ['tokenizer.json', read('tokenizer.json')],
    ['tokenizer_config.json', read('tokenizer_config.json')],
    ['onnx/model.onnx', new Uint8Array([0x08, 0x08])], // a ModelProto holding only ir_version 8: the fake session reads nothing more
  ]);
  const stored = new Map(files);
  return {
    model: 'stories260k',
    baseUrl: 'http://models.test/stories260k/',
    dtype: 'fp32',
    config: JSON.parse(new TextDecoder().decode(files.get('config.json'))) as ModelFiles['config'],
    kind: 'decoder',
    files,
    onnxPath: 'onnx/model.onnx',
    storage: { persistent: false, revision: 'test' },
    // What the store holds: the load step drops the ONNX file from `files` once ORT has it.
    reread: async (path) => stored.get(path)!,
  };
}

/** A loader for `new Engine(loader)` that opens stories260k's files on `backends` (the real open step and backend policy). */
export function fakeLoader(backends: ModelBackends): ModelLoader {
  return async (_env: RuntimeEnv, _cache, transformers, _model, options) => {
    const files = storiesFiles();
    const open = { device: options.device ?? 'auto', threads: 1, kvCache: options.kvCache, dtypeReason: `${files.dtype} was requested` };
    const prepared = prepareOpen(backends, files.config, files.kind, files.baseUrl, open);
    return openModel(backends, transformers, files, prepared, open, new LoadProgress());
  };
}
