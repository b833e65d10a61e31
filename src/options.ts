/**
 * Checks of the public options (types.ts) at the engine's door, in-page and in the worker alike: every
 * bad value and every unknown option name is an InvalidArgumentError that names it, before any work.
 */
import { InvalidArgumentError } from './errors.ts';
import { DTYPES } from './model-format.ts';
import { DEFAULT_KV_CACHE } from './engine/generation/decoder.ts';
import type { DeviceRequest, Dtype, GenerateOptions, KvCacheLimits, LoadOptions } from './types.ts';

/** Added by the client on the way to the engine: the caller's signal in-page, a request id across a worker. */
export const TRANSPORT_KEYS = ['signal', 'requestId'] as const;

export const GENERATE_KEYS = ['maxNewTokens', 'minNewTokens', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'seed', 'stop', 'adapter'] as const;
const LOAD_KEYS = ['dtype', 'device', 'threads', 'revision', 'cache', 'memoryFallback', 'revalidate', 'kvCache', 'onProgress'] as const;
const DEVICES: readonly DeviceRequest[] = ['auto', 'webgpu', 'wasm'];

export type ResolvedGenerateOptions = Required<Omit<GenerateOptions, 'signal' | 'adapter'>> & { adapter: string | null };

/** A value as an error message shows it: NaN and the infinities by name (JSON would say null). */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  return JSON.stringify(value) ?? String(value);
}

/** Throws unless `ok`, naming the rule and the value given. */
export function check(ok: boolean, rule: string, value: unknown): void {
  if (!ok) throw new InvalidArgumentError(`${rule}; got ${describeValue(value)}`, { details: { value } });
}

/** Rejects option names outside `known` (a typo such as `maxTokens` would otherwise be ignored silently). */
export function rejectUnknownKeys(what: string, options: unknown, known: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError(`${what} must be an object; got ${describeValue(options)}`);
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`unknown ${what} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; known: ${known.filter((k) => !(TRANSPORT_KEYS as readonly string[]).includes(k)).join(', ')}`, {
      details: { unknown },
    });
  }
}

/** Generation options with their defaults, or an InvalidArgumentError naming the first bad one. */
export function validateGenerateOptions(prompt: unknown, o: GenerateOptions, extraKeys: readonly string[] = []): ResolvedGenerateOptions {
  if (typeof prompt !== 'string') throw new InvalidArgumentError(`prompt must be a string; got ${prompt === null ? 'null' : typeof prompt}`);
  rejectUnknownKeys('generation option', o, [...GENERATE_KEYS, ...TRANSPORT_KEYS, ...extraKeys]);
  const opts = {
    maxNewTokens: o.maxNewTokens ?? 128,
    minNewTokens: o.minNewTokens ?? 0,
    temperature: o.temperature ?? 0,
    topK: o.topK ?? 0,
    topP: o.topP ?? 1,
    repetitionPenalty: o.repetitionPenalty ?? 1,
    seed: o.seed ?? Math.floor(Math.random() * 2 ** 32),
    stop: o.stop ?? [],
    adapter: o.adapter ?? null,
  };
  check(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 0, 'maxNewTokens must be a non-negative integer', opts.maxNewTokens);
  check(Number.isInteger(opts.minNewTokens) && opts.minNewTokens >= 0 && opts.minNewTokens <= opts.maxNewTokens, 'minNewTokens must be an integer from 0 to maxNewTokens', opts.minNewTokens);
  check(Number.isFinite(opts.temperature) && opts.temperature >= 0, 'temperature must be a finite number ≥ 0', opts.temperature);
  check(Number.isInteger(opts.topK) && opts.topK >= 0, 'topK must be a non-negative integer (0 = off)', opts.topK);
  check(Number.isFinite(opts.topP) && opts.topP > 0 && opts.topP <= 1, 'topP must be in (0, 1]', opts.topP);
  check(Number.isFinite(opts.repetitionPenalty) && opts.repetitionPenalty > 0, 'repetitionPenalty must be a number > 0', opts.repetitionPenalty);
  check(Number.isInteger(opts.seed) && opts.seed >= 0 && opts.seed < 2 ** 32, 'seed must be an integer from 0 to 2^32 − 1', opts.seed);
  check(opts.adapter === null || (typeof opts.adapter === 'string' && opts.adapter.length > 0), 'adapter must be the non-empty name of an adapter', opts.adapter);
  check(Array.isArray(opts.stop) && opts.stop.every((s) => typeof s === 'string' && s.length > 0), 'stop must be an array of non-empty strings', opts.stop);
  return opts;
}

export function validateLoadOptions(opts: LoadOptions): { dtype: Dtype; device: DeviceRequest; threads: number; kvCache: KvCacheLimits } {
  rejectUnknownKeys('load option', opts, [...LOAD_KEYS, ...TRANSPORT_KEYS]);
  const dtype = opts.dtype ?? 'q4';
  const device = opts.device ?? 'auto';
  const threads = opts.threads ?? 1;
  check(DTYPES.includes(dtype), `dtype must be one of ${DTYPES.join(', ')}`, dtype);
  check(DEVICES.includes(device), `device must be one of ${DEVICES.join(', ')}`, device);
  check(Number.isInteger(threads) && threads >= 1 && threads <= 64, 'threads must be an integer from 1 to 64', threads);
  rejectUnknownKeys('kvCache option', opts.kvCache ?? {}, ['maxSequences', 'maxBytes']);
  const kvCache = { ...DEFAULT_KV_CACHE, ...opts.kvCache };
  for (const [key, value] of Object.entries(kvCache)) check(Number.isInteger(value) && value >= 0, `kvCache.${key} must be a non-negative integer`, value);
  return { dtype, device, threads, kvCache };
}

/** Options of calls that take nothing but a signal (embed, search, classify…). */
export function validateSignalOnly(what: string, options: unknown): void {
  rejectUnknownKeys(`${what} option`, options, TRANSPORT_KEYS);
}
