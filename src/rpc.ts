/**
 * Comlink set-up shared by the worker and the page: errors keep their class and code across the
 * boundary (Comlink's default keeps only message, name and stack). Comlink's handlers are global to the
 * page, so the wire format stays Comlink's own ({ isError, value: { message, name, stack } }) plus our
 * fields: other Comlink workers in the same page keep working unchanged.
 */
import * as Comlink from 'comlink';
import { deserializeError, serializeError, type ErrorCode, type SerializedError } from './errors.ts';

interface ThrownValue {
  value: unknown;
}

interface WireError {
  isError: boolean;
  value: unknown;
}

/** Comlink wraps thrown values in an object keyed by a private symbol; recognise it by its description. */
const isThrown = (value: unknown): value is ThrownValue =>
  typeof value === 'object' && value !== null && Object.getOwnPropertySymbols(value).some((s) => s.description === 'Comlink.thrown');

let installed = false;

export function installErrorTransfer(): typeof Comlink {
  if (installed) return Comlink;
  installed = true;
  Comlink.transferHandlers.set('throw', {
    canHandle: isThrown,
    serialize: ({ value }: ThrownValue) => {
      const wire: WireError = value instanceof Error ? { isError: true, value: { name: value.name, ...serializeError(value) } } : { isError: false, value };
      return [wire, []];
    },
    deserialize: (serialized: unknown) => {
      const { isError, value } = serialized as WireError;
      if (!isError) throw value;
      const v = value as Partial<SerializedError> & { name?: string; message: string; stack?: string };
      if (typeof v.code === 'string' && v.details) throw deserializeError(v as SerializedError & { code: ErrorCode });
      throw Object.assign(new Error(v.message), { name: v.name, stack: v.stack });
    },
  } as Comlink.TransferHandler<unknown, unknown>);
  return Comlink;
}
