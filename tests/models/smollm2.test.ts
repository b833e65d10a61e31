/**
 * SmolLM2-135M-Instruct converted from its Q4_1 GGUF: fp32 logits and greedy ids against an
 * independent numpy float64 reference (tests/reference/llama_gguf.py), quantized dtypes against fp32,
 * file sizes, and the converter's errors on GGUFs it cannot convert. The folder is built once by
 * `npm run models` (rebuilt only when the converter or the source changes).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedArchitectureError } from '../../models/architectures/index.ts';
import { ggufModel } from '../../models/gguf/model.ts';
import { readGguf } from '../../models/gguf/reader.ts';
import { PROJECT_ROOT, SMOLLM2_135M_INSTRUCT } from '../../models/sources.ts';
import { smolLm2Gguf } from '../support/gguf.ts';
import { pieceIds } from '../support/gpt2-pieces.ts';
import { LONG_TEXT } from '../support/long-text.ts';
import { maxAbsDiff, NodeDecoder } from '../support/ort-node.ts';
import { cachedPythonJson, ggufPython } from '../support/python.ts';
import { MODELS_DIR } from '../support/sources.ts';

const DIR = join(MODELS_DIR, SMOLLM2_135M_INSTRUCT.id);
const SHAPE = { layers: 30, kvHeads: 3, headSize: 64, vocab: 49152 };
const python = ggufPython();

const chat = (user: string): string => `<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
const GREEDY_PROMPTS = ['What is the capital of France?', 'Write a haiku about the sea.', 'Extract the city from: "I moved to Lyon in 2019."'];
function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

let vocab: string[];
beforeAll(async () => {
  // Builds the folder when missing or stale (a minute or two); a no-op when it is current.
  await promisify(execFile)(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'models/cli.ts'), '--if-stale', '--model', SMOLLM2_135M_INSTRUCT.id], { cwd: PROJECT_ROOT });
  vocab = readGguf(await smolLm2Gguf()).metadata['tokenizer.ggml.tokens'] as string[];
}, 600_000);

const open = (dtype: string): Promise<NodeDecoder> => NodeDecoder.open(join(DIR, 'onnx', dtype), SHAPE);

describe.runIf(python)('SmolLM2 fp32 against the float64 reference', () => {
  let prompt: number[];
  let reference: { logits: Float64Array; greedy: number[][] };
  beforeAll(async () => {
    prompt = pieceIds(vocab, chat(LONG_TEXT)).slice(0, 64);
    const request = JSON.stringify({ logits: prompt, greedy: GREEDY_PROMPTS.map((p) => ({ prompt: pieceIds(vocab, chat(p)), steps: 32 })) });
    const key = `smollm2-${SMOLLM2_135M_INSTRUCT.gguf.sha256.slice(0, 16)}-${createHash('sha256').update(request).digest('hex').slice(0, 16)}`;
    const gguf = join(mkdtempSync(join(tmpdir(), 'smollm2-')), 'model.gguf');
    writeFileSync(gguf, await smolLm2Gguf());
    const { result, dir } = cachedPythonJson<{ greedy: number[][] }>(python!, key, 'llama_gguf.py', [gguf, request, '{dir}/logits.bin']);
    const raw = readFileSync(join(dir, 'logits.bin'));
    reference = { logits: new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), greedy: result.greedy };
  }, 600_000);

  it('logits match within 1e-3 at every position of a 64-token chat prompt', async () => {
    expect(prompt).toHaveLength(64);
    const rows = await (await open('model.onnx')).feed(prompt);
    let worst = 0;
    rows.forEach((row, pos) => {
      for (let j = 0; j < SHAPE.vocab; j++) worst = Math.max(worst, Math.abs(row[j]! - reference.logits[pos * SHAPE.vocab + j]!));
    });
    console.log(`SmolLM2 fp32 vs float64 reference: max |Δlogit| ${worst.toExponential(2)} over 64 positions`);
    expect(worst).toBeLessThan(1e-3);
  });

  it('greedy 32 tokens from 3 chat prompts equal the reference', async () => {
    const decoder = await open('model.onnx');
    for (const [i, text] of GREEDY_PROMPTS.entries()) {
      decoder.reset();
      let row = (await decoder.feed(pieceIds(vocab, chat(text)))).at(-1)!;
      const ids: number[] = [];
      for (let step = 0; step < 32; step++) {
        ids.push(argmax(row));
        row = (await decoder.feed([ids.at(-1)!]))[0]!;
      }
      expect(ids, text).toEqual(reference.greedy[i]);
    }
  });

  it('stock transformers.js greedy-decodes the same ids from the converted folder', async () => {
    env.localModelPath = `${join(DIR, '..')}/`;
    env.allowRemoteModels = false;
    const model = await AutoModelForCausalLM.from_pretrained(SMOLLM2_135M_INSTRUCT.id, { local_files_only: true, dtype: 'fp32' });
    for (const [i, text] of GREEDY_PROMPTS.entries()) {
      const prompt = pieceIds(vocab, chat(text));
      const inputs = { input_ids: new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]), attention_mask: new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]) };
      const output = await model.generate({ ...inputs, max_new_tokens: 32, do_sample: false });
      const ids = Array.from((output as unknown as { data: BigInt64Array }).data, Number).slice(prompt.length);
      console.log(`transformers.js: ${ids.length} ids for ${JSON.stringify(text)}`);
      // transformers.js stops at an end-of-turn id (and includes it); the reference runs 32 steps regardless.
      expect(ids, text).toEqual(reference.greedy[i]!.slice(0, ids.length));
      expect(ids.length === 32 || [0, 2].includes(ids.at(-1)!), text).toBe(true);
    }
    await model.dispose();
  }, 300_000);
});

describe('SmolLM2 quantized files', () => {
  const manifest = (): { dtypes: Record<string, { file: string }>; files: Record<string, { bytes: number; sha256: string }>; kind: string } =>
    JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));

  it('q8 agrees with fp32 on ≥ 95 %, q4 and q4f16 on ≥ 85 % of teacher-forced top-1 predictions over 200 positions', async () => {
    const ids = pieceIds(vocab, chat(LONG_TEXT)).slice(0, 200);
    expect(ids).toHaveLength(200);
    const top1 = async (file: string): Promise<number[]> => (await (await open(file)).feed(ids)).map(argmax);
    const fp32 = await top1('model.onnx');
    const agreement = async (file: string): Promise<number> => (await top1(file)).filter((t, i) => t === fp32[i]).length / ids.length;
    const [q8, q4, q4f16] = [await agreement('model_quantized.onnx'), await agreement('model_q4.onnx'), await agreement('model_q4f16.onnx')];
    console.log(`SmolLM2 top-1 agreement with fp32 over 200 positions: q8 ${(q8 * 100).toFixed(1)} %, q4 ${(q4 * 100).toFixed(1)} %, q4f16 ${(q4f16 * 100).toFixed(1)} %`);
    expect(q8).toBeGreaterThanOrEqual(0.95);
    expect(q4).toBeGreaterThanOrEqual(0.85);
    expect(q4f16).toBeGreaterThanOrEqual(0.85);
  }, 300_000);

  it('stores q4 in at most 0.3× the fp32 file, embedding and tied LM head included', () => {
    const m = manifest();
    const size = (dtype: string): number => m.files[m.dtypes[dtype]!.file]!.bytes;
    console.log(`SmolLM2 files: ${Object.keys(m.dtypes).map((d) => `${d} ${(size(d) / 1e6).toFixed(1)} MB`).join(', ')}`);
    expect(size('q4') / size('fp32')).toBeLessThanOrEqual(0.3);
    expect(readFileSync(join(DIR, m.dtypes.q4!.file)).includes('GatherBlockQuantized')).toBe(true);
  });

  it('uses MatMul attention for the WASM dtypes (faster prefill there) and GroupQueryAttention for q4f16', () => {
    const { dtypes } = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { dtypes: Record<string, { attention: string }> };
    expect(Object.fromEntries(Object.entries(dtypes).map(([dtype, entry]) => [dtype, entry.attention]))).toEqual({
      fp32: 'RotaryEmbedding+MatMul',
      q8: 'RotaryEmbedding+MatMul',
      q4: 'RotaryEmbedding+MatMul',
      q4f16: 'GroupQueryAttention',
    });
  });

  it('q4f16 keeps a float16 KV cache and greedy-decodes the first 8 tokens as fp32 does', async () => {
    const session = await ort.InferenceSession.create(join(DIR, 'onnx', 'model_q4f16.onnx'));
    expect(session.inputMetadata.find((m) => m.name === 'past_key_values.0.key')).toMatchObject({ type: 'float16' });
    const greedy8 = async (file: string): Promise<number[]> => {
      const decoder = await open(file);
      let row = (await decoder.feed(pieceIds(vocab, chat(GREEDY_PROMPTS[0]!)))).at(-1)!;
      const ids: number[] = [];
      for (let step = 0; step < 8; step++) {
        ids.push(argmax(row));
        row = (await decoder.feed([ids.at(-1)!]))[0]!;
      }
      return ids;
    };
    expect(await greedy8('model_q4f16.onnx')).toEqual(await greedy8('model.onnx'));
  });

  it('lists every file with its real size and SHA-256 in a decoder manifest', () => {
    const m = manifest();
    expect(m.kind).toBe('decoder');
    expect(Object.keys(m.dtypes)).toEqual(['fp32', 'q8', 'q4', 'q4f16']);
    for (const [path, f] of Object.entries(m.files)) {
      const bytes = readFileSync(join(DIR, path));
      expect(bytes.byteLength, path).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), path).toBe(f.sha256);
    }
  });

  it('num_logits_to_keep = 1 computes only the last row, the full run’s last row', async () => {
    const session = await ort.InferenceSession.create(join(DIR, 'onnx', 'model_q4.onnx'));
    const ids = pieceIds(vocab, chat('Hello!'));
    const run = async (keep: bigint): Promise<ort.Tensor> => {
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(i)), [1, ids.length]),
        num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(keep), []),
      };
      for (let l = 0; l < SHAPE.layers; l++) {
        for (const kind of ['key', 'value']) feeds[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, SHAPE.kvHeads, 0, SHAPE.headSize]);
      }
      return (await session.run(feeds, ['logits'])).logits!;
    };
    const [all, last] = [await run(0n), await run(1n)];
    expect(all.dims).toEqual([1, ids.length, SHAPE.vocab]);
    expect(last.dims).toEqual([1, 1, SHAPE.vocab]);
    // Equal up to summation order: one row goes through MatMulNBits' vector kernel, many through its GEMM.
    const fullLast = (all.data as Float32Array).subarray((ids.length - 1) * SHAPE.vocab);
    expect(maxAbsDiff(last.data as Float32Array, fullLast)).toBeLessThan(1e-4);
    expect(argmax(last.data as Float32Array)).toBe(argmax(fullLast));
  });
});

describe('GGUF conversion errors', () => {
  it('names an architecture that has no converter', async () => {
    const bytes = (await smolLm2Gguf()).slice();
    const key = new TextEncoder().encode('general.architecture');
    const at = Buffer.from(bytes).indexOf(Buffer.from(key)) + key.byteLength + 4 + 8; // value type u32, string length u64
    expect(new TextDecoder().decode(bytes.subarray(at, at + 5))).toBe('llama');
    bytes.set(new TextEncoder().encode('mamba'), at);
    expect(() => ggufModel(bytes, 'mamba.gguf')).toThrow(UnsupportedArchitectureError);
    expect(() => ggufModel(bytes, 'mamba.gguf')).toThrow('mamba.gguf: architecture "mamba" is not supported (supported: llama, gemma3)');
  });
});
