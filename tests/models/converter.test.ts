import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, parseLegacyCheckpoint } from '../../models/llama2c/checkpoint.ts';
import { convertModel, llama2cInput, writeModelFolder } from '../../models/convert.ts';
import { parseTokenizerBin } from '../../models/llama2c/tokenizer-bin.ts';
import { dequantizeNBits, quantizeNBits } from '../../models/onnx/quantize.ts';
import { PROJECT_ROOT, resolveSource, SourceError, STORIES_260K, type SourceFile } from '../../models/sources.ts';

const run = promisify(execFile);
const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'models/cli.ts'), ...args], { cwd: PROJECT_ROOT });

describe('llama2.c checkpoint validation', () => {
  let good: Uint8Array;
  beforeAll(async () => {
    good = await resolveSource(STORIES_260K.checkpoint);
  });

  it('reads the stories260K header', () => {
    expect(parseLegacyCheckpoint(good).shape).toEqual({
      dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true,
    });
  });

  it('rejects a truncated file, naming expected and actual sizes', () => {
    expect(() => parseLegacyCheckpoint(good.subarray(0, good.byteLength - 4), 'x.bin')).toThrow(/needs 1056540 bytes, but the file has 1056536/);
  });

  it('rejects a header with implausible fields', () => {
    const bad = good.slice();
    new DataView(bad.buffer).setInt32(12, 7, true); // n_heads = 7 does not divide dim 64
    expect(() => parseLegacyCheckpoint(bad)).toThrow(/dim 64 is not divisible by n_heads 7/);
    new DataView(bad.buffer).setInt32(0, -5, true);
    expect(() => parseLegacyCheckpoint(bad)).toThrow(/dim=-5 is not a plausible/);
  });

  it('rejects newer llama2.c export versions by their magic', () => {
    const v1 = good.slice(0, 256);
    new DataView(v1.buffer).setUint32(0, 0x616b3432, true);
    new DataView(v1.buffer).setInt32(4, 2, true);
    expect(() => parseLegacyCheckpoint(v1)).toThrow(CheckpointError);
    expect(() => parseLegacyCheckpoint(v1)).toThrow(/version 2 export/);
  });

  it('rejects a tokenizer that does not belong to the model', async () => {
    const tok = await resolveSource(STORIES_260K.tokenizer);
    expect(() => parseTokenizerBin(tok, 1000)).toThrow(/truncated/);
    expect(() => parseTokenizerBin(tok, 300)).toThrow(/bytes left after 300 entries/);
  });

  it('the CLI fails with the reason and leaves nothing in the output folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slm-convert-'));
    const out = join(dir, 'out');
    const broken = join(dir, 'broken.bin');
    writeFileSync(broken, good.subarray(0, 5000));
    const tok = join(dir, 'tok.bin');
    writeFileSync(tok, await resolveSource(STORIES_260K.tokenizer));
    const failure = await cli(['--checkpoint', broken, '--tokenizer', tok, '--id', 'broken', '--out', out]).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toMatch(/needs 1056540 bytes, but the file has 5000/);
    expect(readdirSync(dir)).not.toContain('out-broken');
    expect(() => readdirSync(out)).toThrow(); // not even an empty output root
  });
});

describe('conversion output', () => {
  it('is byte-identical when rebuilt from the same source', async () => {
    const build = async () => {
      const checkpoint = parseLegacyCheckpoint(await resolveSource(STORIES_260K.checkpoint));
      const vocab = parseTokenizerBin(await resolveSource(STORIES_260K.tokenizer), 512);
      return convertModel(llama2cInput('x', checkpoint, vocab, { format: 'llama2c-legacy', provenance: 'test', license: 'MIT', files: [] }));
    };
    const [a, b] = [await build(), await build()];
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [path, bytes] of a) expect(Buffer.compare(Buffer.from(bytes), Buffer.from(b.get(path)!)), path).toBe(0);
  });

  it('the bundled folder matches its manifest, file by file', () => {
    const folder = join(PROJECT_ROOT, 'public/models/stories260k');
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.files).sort()).toEqual([
      'config.json', 'generation_config.json', 'gguf/model-f32.gguf', 'gguf/model-q8_0.gguf', 'onnx/model.onnx', 'onnx/model_q4.onnx', 'onnx/model_quantized.onnx',
      'tokenizer.json', 'tokenizer_config.json', 'training/model_lora.onnx',
    ]);
    for (const [path, f] of Object.entries(manifest.files) as Array<[string, { bytes: number; sha256: string }]>) {
      const bytes = readFileSync(join(folder, path));
      expect(bytes.byteLength, path).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), path).toBe(f.sha256);
    }
    expect(manifest.source.files.map((f: { sha256: string }) => f.sha256)).toEqual([STORIES_260K.checkpoint.sha256, STORIES_260K.tokenizer.sha256]);
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: 64, intermediate_size: 172, num_hidden_layers: 5,
      num_attention_heads: 8, num_key_value_heads: 4, vocab_size: 512, max_position_embeddings: 512, rms_norm_eps: 1e-5,
      rope_theta: 10000, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2,
    });
  });

  it('a failed write leaves the previous folder in place and no staging folder', () => {
    const root = mkdtempSync(join(tmpdir(), 'slm-write-'));
    writeModelFolder(root, 'm', new Map([['a.json', new TextEncoder().encode('{"v":1}')]]));
    expect(() => writeModelFolder(root, 'm', new Map([['../escape.json', new Uint8Array(1)]]))).toThrow(/outside the model folder/);
    expect(readdirSync(root)).toEqual(['m']);
    expect(readFileSync(join(root, 'm/a.json'), 'utf8')).toBe('{"v":1}');
  });
});

describe('block-wise quantization', () => {
  it.each([4, 8] as const)('%i-bit round trip stays within half a step of every block, padding included', (bits) => {
    const k = 70; // not a multiple of the block size
    const n = 3;
    const w = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
    const q = quantizeNBits(w, n, k, bits, 32);
    const back = dequantizeNBits(q);
    for (let i = 0; i < w.length; i++) {
      const scale = q.scales[Math.floor(i / k) * 3 + Math.floor((i % k) / 32)]!;
      expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-6);
    }
  });
});

describe('source download (the path used when ../shared is absent)', () => {
  const payload = new TextEncoder().encode('pretend checkpoint bytes');
  const file: SourceFile = {
    local: 'nowhere/model.bin',
    url: 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin',
    sha256: createHash('sha256').update(payload).digest('hex'),
    bytes: payload.byteLength,
  };
  let server: Server;
  let mirror: string;
  const requests: string[] = [];
  let corrupt = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url !== '/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin') return void res.writeHead(404).end();
      res.writeHead(200).end(corrupt ? Buffer.from('tampered bytes, same len!') : Buffer.from(payload));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    mirror = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => server.close());

  it('downloads the original path, checks SHA-256, and keeps it for the next run', async () => {
    const dirs = { sharedDir: mkdtempSync(join(tmpdir(), 'shared-')), downloadDir: mkdtempSync(join(tmpdir(), 'dl-')), mirror };
    expect(new Uint8Array(await resolveSource(file, dirs))).toEqual(payload);
    expect(new Uint8Array(await resolveSource(file, dirs))).toEqual(payload);
    expect(requests).toHaveLength(1);
  });

  it('rejects a download whose SHA-256 does not match, and keeps nothing', async () => {
    corrupt = true;
    const downloadDir = mkdtempSync(join(tmpdir(), 'dl-'));
    const opts = { sharedDir: mkdtempSync(join(tmpdir(), 'shared-')), downloadDir, mirror };
    await expect(resolveSource({ ...file, bytes: 25 }, opts)).rejects.toThrow(SourceError);
    await expect(resolveSource({ ...file, bytes: 25 }, opts)).rejects.toThrow(/SHA-256 .* does not match/);
    expect(readdirSync(downloadDir)).toEqual([]);
    corrupt = false;
  });
});
