/**
 * The pinned Python environment some tests compare against (scripts/python-env.sh: llama.cpp's `gguf`
 * package and numpy in .cache/venv). Elsewhere a missing environment skips those tests with the command
 * that installs it; under CI=true it fails them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../models/sources.ts';

export const PYTHON_ENV_SETUP = 'scripts/python-env.sh';
const VENV_PYTHON = join(PROJECT_ROOT, '.cache', 'venv', 'bin', 'python');

/** The venv's interpreter when it imports `gguf`; null (or a thrown error under CI) otherwise. */
export function ggufPython(): string | null {
  try {
    if (existsSync(VENV_PYTHON)) {
      execFileSync(VENV_PYTHON, ['-c', 'import gguf, numpy'], { stdio: 'ignore' });
      return VENV_PYTHON;
    }
  } catch {
    // falls through to the message below
  }
  const message = `the Python package gguf is not installed: run ${PYTHON_ENV_SETUP} (creates .cache/venv from scripts/python-requirements.txt)`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`skipping: ${message}`);
  return null;
}

/** Runs a script under tests/reference with the venv's interpreter and parses its JSON output. */
export function runPythonJson<T>(python: string, script: string, args: string[]): T {
  const out = execFileSync(python, [join(PROJECT_ROOT, 'tests', 'reference', script), ...args], { maxBuffer: 1 << 30, encoding: 'utf8' });
  return JSON.parse(out) as T;
}

/**
 * runPythonJson, remembered in .cache/reference under `key` (e.g. the input's SHA-256) and the pinned
 * requirements and script, so a 250 MB file goes through Python once per machine, not on every run.
 * `{dir}` in `args` becomes a folder kept with the result, for outputs too large for JSON.
 */
export function cachedPythonJson<T>(python: string, key: string, script: string, args: string[]): { result: T; dir: string } {
  const pins = createHash('sha256').update(readFileSync(join(PROJECT_ROOT, 'scripts', 'python-requirements.txt'))).update(readFileSync(join(PROJECT_ROOT, 'tests', 'reference', script))).digest('hex').slice(0, 16);
  const dir = join(PROJECT_ROOT, '.cache', 'reference', `${key}-${pins}`);
  const path = join(dir, 'result.json');
  if (existsSync(path)) return { result: JSON.parse(readFileSync(path, 'utf8')) as T, dir };
  mkdirSync(dir, { recursive: true });
  const result = runPythonJson<T>(python, script, args.map((a) => a.replace('{dir}', dir)));
  writeFileSync(path, JSON.stringify(result));
  return { result, dir };
}
