/**
 * Whether the files still to download fit: in the cache's byte budget, in the origin's reported quota,
 * and in a real write. Browsers may report an obfuscated quota from navigator.storage.estimate(), so
 * the probe commits that many bytes of incompressible data in one transaction and deletes them again:
 * if that fits, the model will.
 */
import { QuotaExceededError } from '../errors.ts';
import type { FileStore } from './file-store.ts';

export async function checkSpace(store: FileStore, needed: number, config: { budgetBytes?: number; chunkBytes: number }): Promise<void> {
  if (needed <= 0 || !store.persistent) return;
  const budget = config.budgetBytes;
  if (budget !== undefined && needed > budget) {
    throw new QuotaExceededError(`the model needs ${needed} more bytes but the cache budget is ${budget}`, { details: { needed, budget } });
  }
  const estimate = await globalThis.navigator?.storage?.estimate?.();
  const free = estimate?.quota !== undefined ? estimate.quota - (estimate.usage ?? 0) : undefined;
  const refuse = (cause?: unknown): QuotaExceededError =>
    new QuotaExceededError(`the model needs ${needed} bytes of storage but only ${free ?? 'fewer'} are free for this site`, {
      ...(cause !== undefined && { cause }),
      details: { needed, ...(free !== undefined && { free }), ...(estimate?.quota !== undefined && { quota: estimate.quota }) },
    });
  if (free !== undefined && needed > free) throw refuse();
  try {
    await store.probeWrite(needed, config.chunkBytes);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'QuotaExceededError') throw refuse(err);
    throw err;
  }
}
