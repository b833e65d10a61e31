/** What leaves the cache: superseded revisions of a model, and least recently used models beyond the byte budget. */

/** A cached model revision as eviction sees it. */
export interface Evictable {
  key: string;
  url: string;
  bytes: number;
  partialBytes: number;
}

/** Keys of the other revisions of the model at `baseUrl` (superseded by `keep`). */
export function otherRevisions(models: Evictable[], baseUrl: string, keep: string): string[] {
  return models.filter((m) => m.url === baseUrl && m.key !== keep).map((m) => m.key);
}

/** Keys to evict, least recently used first (`models` most recent first), until the total fits `budget`; never `keep`. */
export function overBudget(models: Evictable[], budget: number, keep: string): string[] {
  let total = models.reduce((n, m) => n + m.bytes + m.partialBytes, 0);
  const evicted: string[] = [];
  for (const m of [...models].reverse()) {
    if (total <= budget) break;
    if (m.key === keep) continue;
    total -= m.bytes + m.partialBytes;
    evicted.push(m.key);
  }
  return evicted;
}
