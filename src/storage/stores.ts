/**
 * Every persistent store of the runtime, opened together on one IndexedDB database: model files,
 * skills and search documents. Where IndexedDB is unavailable all of them work from memory.
 */
import { DocumentStore } from '../search/document-store.ts';
import { SkillStore } from '../skills/store.ts';
import { WeightCache, type CacheConfig } from './weight-cache.ts';

export interface Stores {
  weights: WeightCache;
  skills: SkillStore;
  documents: DocumentStore;
}

export async function openStores(config: CacheConfig): Promise<Stores> {
  const weights = await WeightCache.open(config);
  return { weights, skills: new SkillStore(weights.database), documents: new DocumentStore(weights.database) };
}
