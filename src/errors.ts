/**
 * The typed errors every layer throws. Each carries a stable `code`, a message a user can act on and,
 * where there is one, the underlying `cause`. Errors cross the worker boundary with their class intact
 * (see rpc.ts), so `instanceof` works in the page exactly as in the worker.
 */
export type ErrorCode =
  | 'invalid-argument'
  | 'unsupported-schema'
  | 'model-not-found'
  | 'invalid-model-file'
  | 'dtype-unavailable'
  | 'context-overflow'
  | 'model-not-loaded'
  | 'unsupported-task'
  | 'backend-unavailable'
  | 'network'
  | 'integrity'
  | 'quota-exceeded'
  | 'aborted'
  | 'client-terminated'
  | 'internal';

export class SlmError extends Error {
  // Explicit names: class names do not survive minification.
  override name = 'SlmError';
  readonly code: ErrorCode = 'internal';
  /** Machine-readable facts about the failure (URL, limits, available dtypes...). */
  readonly details: Record<string, unknown>;

  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details ?? {};
  }
}

export class InvalidArgumentError extends SlmError {
  override name = 'InvalidArgumentError';
  override readonly code = 'invalid-argument';
}
/** A JSON Schema keyword or shape that constrained decoding does not support; `details.keywords` names them. */
export class UnsupportedSchemaError extends SlmError {
  override name = 'UnsupportedSchemaError';
  override readonly code = 'unsupported-schema';
}
/** No model at that id or URL (404 for config.json, or an unknown bundled id). */
export class ModelNotFoundError extends SlmError {
  override name = 'ModelNotFoundError';
  override readonly code = 'model-not-found';
}
/** A response that is not the file asked for: HTML instead of ONNX, unparsable JSON, bad ONNX header. */
export class InvalidModelFileError extends SlmError {
  override name = 'InvalidModelFileError';
  override readonly code = 'invalid-model-file';
}
export class DtypeUnavailableError extends SlmError {
  override name = 'DtypeUnavailableError';
  override readonly code = 'dtype-unavailable';
}
export class ContextOverflowError extends SlmError {
  override name = 'ContextOverflowError';
  override readonly code = 'context-overflow';
}
/** The handle was never loaded or has been unloaded. */
export class ModelNotLoadedError extends SlmError {
  override name = 'ModelNotLoadedError';
  override readonly code = 'model-not-loaded';
}
/** The model cannot do this task: generation on an encoder-only model, for example. */
export class UnsupportedTaskError extends SlmError {
  override name = 'UnsupportedTaskError';
  override readonly code = 'unsupported-task';
}
export class BackendUnavailableError extends SlmError {
  override name = 'BackendUnavailableError';
  override readonly code = 'backend-unavailable';
}
export class NetworkError extends SlmError {
  override name = 'NetworkError';
  override readonly code = 'network';
}
export class IntegrityError extends SlmError {
  override name = 'IntegrityError';
  override readonly code = 'integrity';
}
export class QuotaExceededError extends SlmError {
  override name = 'QuotaExceededError';
  override readonly code = 'quota-exceeded';
}
export class AbortError extends SlmError {
  override name = 'AbortError';
  override readonly code = 'aborted';
}

/** The client was terminated: its worker and every model in it are gone; start a new client. */
export class ClientTerminatedError extends SlmError {
  override name = 'ClientTerminatedError';
  override readonly code = 'client-terminated';
}

const BY_CODE: Record<ErrorCode, new (message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) => SlmError> = {
  'invalid-argument': InvalidArgumentError,
  'unsupported-schema': UnsupportedSchemaError,
  'model-not-found': ModelNotFoundError,
  'invalid-model-file': InvalidModelFileError,
  'dtype-unavailable': DtypeUnavailableError,
  'context-overflow': ContextOverflowError,
  'model-not-loaded': ModelNotLoadedError,
  'unsupported-task': UnsupportedTaskError,
  'backend-unavailable': BackendUnavailableError,
  network: NetworkError,
  integrity: IntegrityError,
  'quota-exceeded': QuotaExceededError,
  aborted: AbortError,
  'client-terminated': ClientTerminatedError,
  internal: SlmError,
};

export interface SerializedError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
  stack?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof SlmError) return { code: err.code, message: err.message, details: err.details, stack: err.stack };
  const e = err instanceof Error ? err : new Error(String(err));
  return { code: 'internal', message: e.message, details: { name: e.name }, stack: e.stack };
}

export function deserializeError(s: SerializedError): SlmError {
  const err = new (BY_CODE[s.code] ?? SlmError)(s.message, { details: s.details });
  if (s.stack) err.stack = s.stack;
  return err;
}

/** Throws the AbortError for `signal` if it has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`, { cause: signal.reason });
}
