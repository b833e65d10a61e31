/**
 * Where search documents and their embeddings are kept (IndexedDB, or memory where it is unavailable),
 * and the top k by cosine similarity (embeddings are unit vectors, so a dot product).
 */
import type { CacheDb, StoredDocument } from '../storage/database.ts';

export interface SearchHit {
  id: string;
  text: string;
  score: number;
}

export interface DocumentStore {
  /** Stores documents, replacing ones with the same collection and id. */
  put(docs: StoredDocument[]): Promise<void>;
  collection(name: string): Promise<StoredDocument[]>;
  deleteCollection(name: string): Promise<void>;
}

export class IdbDocumentStore implements DocumentStore {
  constructor(private readonly db: CacheDb) {}

  async put(docs: StoredDocument[]): Promise<void> {
    const tx = this.db.transaction('documents', 'readwrite');
    await Promise.all([...docs.map((d) => tx.store.put(d)), tx.done]);
  }

  collection(name: string): Promise<StoredDocument[]> {
    return this.db.getAllFromIndex('documents', 'byCollection', name);
  }

  async deleteCollection(name: string): Promise<void> {
    const tx = this.db.transaction('documents', 'readwrite');
    for (const key of await tx.store.index('byCollection').getAllKeys(name)) await tx.store.delete(key);
    await tx.done;
  }
}

export class MemoryDocumentStore implements DocumentStore {
  private readonly docs = new Map<string, StoredDocument>();

  async put(docs: StoredDocument[]): Promise<void> {
    for (const d of docs) this.docs.set(JSON.stringify([d.collection, d.id]), d);
  }

  async collection(name: string): Promise<StoredDocument[]> {
    return [...this.docs.values()].filter((d) => d.collection === name);
  }

  async deleteCollection(name: string): Promise<void> {
    for (const [k, d] of this.docs) if (d.collection === name) this.docs.delete(k);
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
