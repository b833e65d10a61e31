/**
 * Local semantic search: documents embedded by a model, kept in IndexedDB (memory where unavailable),
 * searched by cosine similarity (embeddings are unit vectors, so a dot product) for the top k.
 */
import type { CacheDb, StoredDocument } from '../storage/cache-db.ts';

export interface SearchHit {
  id: string;
  text: string;
  score: number;
}

export class DocumentStore {
  private readonly memory = new Map<string, StoredDocument>();

  /** On the weight cache's database, or in memory when it has none. */
  constructor(private readonly db: CacheDb | null) {}

  async put(docs: StoredDocument[]): Promise<void> {
    if (!this.db) {
      for (const d of docs) this.memory.set(JSON.stringify([d.collection, d.id]), d);
      return;
    }
    const tx = this.db.transaction('documents', 'readwrite');
    await Promise.all([...docs.map((d) => tx.store.put(d)), tx.done]);
  }

  async collection(name: string): Promise<StoredDocument[]> {
    if (!this.db) return [...this.memory.values()].filter((d) => d.collection === name);
    return this.db.getAllFromIndex('documents', 'byCollection', name);
  }

  async deleteCollection(name: string): Promise<void> {
    if (!this.db) {
      for (const [k, d] of this.memory) if (d.collection === name) this.memory.delete(k);
      return;
    }
    const tx = this.db.transaction('documents', 'readwrite');
    for (const key of await tx.store.index('byCollection').getAllKeys(name)) await tx.store.delete(key);
    await tx.done;
  }
}

/** The k documents most similar to `query` (both unit vectors), best first. */
export function topK(docs: StoredDocument[], query: Float32Array, k: number): SearchHit[] {
  return docs
    .map((d) => {
      let score = 0;
      for (let i = 0; i < query.length; i++) score += query[i]! * d.vector[i]!;
      return { id: d.id, text: d.text, score };
    })
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}
