/**
 * Local semantic search as a service of the engine: documents with their embeddings kept per
 * collection, searched by cosine similarity among those embedded by the same model revision. The
 * engine embeds (in the model's queue); this service checks requests, stores and ranks.
 */
import { InvalidArgumentError } from '../errors.ts';
import { check } from '../options.ts';
import { topK, type DocumentStore, type SearchHit } from './document-store.ts';

export interface Document {
  id: string;
  text: string;
}

export class SearchService {
  constructor(private readonly store: () => Promise<DocumentStore>) {}

  /** Throws unless this is a valid indexing request (before anything is embedded). */
  checkDocuments(collection: unknown, docs: unknown): asserts docs is Document[] {
    checkCollection(collection);
    if (!Array.isArray(docs) || docs.length === 0 || docs.some((d: Partial<Document> | null) => typeof d?.id !== 'string' || typeof d.text !== 'string')) {
      throw new InvalidArgumentError('docs must be a non-empty array of { id, text } strings');
    }
  }

  /** Throws unless `k` is a valid result count. */
  checkK(k: unknown): void {
    check(Number.isInteger(k) && (k as number) >= 1, 'k must be a positive integer', k);
  }

  /** Stores documents with their vectors, replacing ones with the same id; `model` names the embedding model revision. */
  async index(collection: string, docs: Document[], vectors: Float32Array[], model: string): Promise<number> {
    await (await this.store()).put(docs.map((d, i) => ({ collection, id: d.id, text: d.text, vector: vectors[i]!, model })));
    return docs.length;
  }

  /** The k documents of `collection` closest to `vector` among those embedded by `model`. */
  async search(collection: string, vector: Float32Array, model: string, k: number): Promise<SearchHit[]> {
    const docs = (await (await this.store()).collection(collection)).filter((d) => d.model === model);
    return topK(docs, vector, k);
  }

  async deleteCollection(collection: string): Promise<void> {
    await (await this.store()).deleteCollection(collection);
  }
}

function checkCollection(collection: unknown): asserts collection is string {
  if (typeof collection !== 'string' || !collection) throw new InvalidArgumentError('collection must be a non-empty string');
}
