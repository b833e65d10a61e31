/**
 * Comlink set-up shared by the worker and the page: errors keep their class and code across the
 * boundary (Comlink's default keeps only message and name).
 */
import * as Comlink from 'comlink';
import { deserializeError, serializeError, type SerializedError } from './errors.ts';

interface ThrownValue {
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
    serialize: ({ value }: ThrownValue) => [serializeError(value), []],
    deserialize: (serialized: unknown) => {
      throw deserializeError(serialized as SerializedError);
    },
  } as Comlink.TransferHandler<unknown, unknown>);
  return Comlink;
}
