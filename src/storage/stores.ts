/**
 * Every persistent store of the runtime, opened together: the one place that opens the IndexedDB
 * database (database.ts). Where it cannot be opened, every store works from memory and the weight
 * cache says why.
 */
import { IdbDocumentStore, MemoryDocumentStore, type DocumentStore } from '../search/document-store.ts';
import { IdbSkillStore, MemorySkillStore, type SkillStore } from '../skills/store.ts';
import { openDatabase } from './database.ts';
import { IdbFileStore } from './file-store.ts';
import { WeightCache, type CacheConfig } from './weight-cache.ts';

export interface Stores {
  weights: WeightCache;
  skills: SkillStore;
  documents: DocumentStore;
}

export async function openStores(config: CacheConfig): Promise<Stores> {
  if (typeof indexedDB === 'undefined') return inMemory(config, 'IndexedDB is not available in this context');
  try {
    const db = await openDatabase(config.dbName);
    return { weights: new WeightCache(config, new IdbFileStore(db), null), skills: new IdbSkillStore(db), documents: new IdbDocumentStore(db) };
  } catch (err) {
    return inMemory(config, `IndexedDB could not be opened: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function inMemory(config: CacheConfig, reason: string): Stores {
  return { weights: WeightCache.memory(config, reason), skills: new MemorySkillStore(), documents: new MemoryDocumentStore() };
}
