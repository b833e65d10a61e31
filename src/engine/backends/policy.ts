/**
 * The one backend policy, for decoders, encoders and the fallback at run time: try backends in
 * priority order, record why each one before the chosen one was skipped or failed, and say which was
 * chosen, why, and whether the runtime fell back (a backend that was tried and failed, as opposed to
 * one that was unavailable from the start).
 */
import { BackendUnavailableError, throwIfAborted } from '../../errors.ts';
import type { Backend } from '../../types.ts';

const NAMES: Record<Backend, string> = { webgpu: 'WebGPU', wasm: 'WASM' };

/** Thrown by a candidate that cannot be tried here at all (no adapter, too small a device). */
export class BackendUnusable extends Error {
  override name = 'BackendUnusable';
}

export interface Candidate<T> {
  backend: Backend;
  /** Opens the backend and validates it (a first run); throws BackendUnusable, or any error for a failure. */
  open(): Promise<{ value: T; description: string }>;
}

export interface BackendFailure {
  backend: Backend;
  /** 'unusable': never tried (the probe said no); 'failed': tried and failed. */
  kind: 'unusable' | 'failed';
  /** What went wrong, without the backend's name: "session creation failed (…)". */
  message: string;
}

export interface BackendChoice<T> {
  value: T;
  backend: Backend;
  /** Why this backend: its own description, or the failure that moved the runtime past the one before. */
  reason: string;
  fellBack: boolean;
  failures: BackendFailure[];
}

export interface ChooseOptions {
  /** The caller asked for exactly this backend: its failure is a BackendUnavailableError, never a fallback. */
  required?: boolean;
  /** Failures before this choice (a run that failed on the backend in use). */
  earlier?: BackendFailure[];
  signal?: AbortSignal;
}

/** Tries `candidates` in order and returns the first that opens. */
export async function chooseBackend<T>(candidates: Array<Candidate<T>>, options: ChooseOptions = {}): Promise<BackendChoice<T>> {
  const failures = [...(options.earlier ?? [])];
  for (const [i, candidate] of candidates.entries()) {
    if (i > 0) throwIfAborted(options.signal, 'loading the model');
    const last = i === candidates.length - 1;
    try {
      const { value, description } = await candidate.open();
      const previous = failures.at(-1);
      return {
        value,
        backend: candidate.backend,
        reason: previous ? describeFailure(previous, candidate.backend) : description,
        fellBack: failures.some((f) => f.kind === 'failed'),
        failures,
      };
    } catch (err) {
      const message = errorMessage(err);
      const failure: BackendFailure = { backend: candidate.backend, kind: err instanceof BackendUnusable ? 'unusable' : 'failed', message };
      if (options.required) {
        throw new BackendUnavailableError(`${NAMES[candidate.backend]} was requested but ${message}`, { cause: err, details: { backend: candidate.backend } });
      }
      if (last) throw err;
      failures.push(failure);
    }
  }
  throw new BackendUnavailableError('no backend to try');
}

function describeFailure(failure: BackendFailure, next: Backend): string {
  const name = NAMES[failure.backend];
  return failure.kind === 'unusable' ? `${name} unavailable (${failure.message}); using ${NAMES[next]}` : `${name} ${failure.message}; fell back to ${NAMES[next]}`;
}

/**
 * The run-time half of the policy: runs `run` on the value in use (`current()`); if it throws on a
 * backend other than WASM, the last resort, `fallBack` moves to the next backend (through
 * chooseBackend, with this failure as an earlier one) and `retry` runs on the value that took over.
 */
export async function runWithFallback<T extends { backend: { name: Backend } }, R>(
  current: () => T,
  fallBack: (message: string) => Promise<void>,
  run: (value: T) => Promise<R>,
  retry: (value: T) => Promise<R> = run,
): Promise<R> {
  const value = current();
  try {
    return await run(value);
  } catch (err) {
    if (value.backend.name === 'wasm') throw err;
    await fallBack(`run failed (${errorMessage(err)})`);
    return retry(current());
  }
}

/** The message of a thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
