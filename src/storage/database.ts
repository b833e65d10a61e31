/**
 * The runtime's one IndexedDB database, opened here for every store (model files, skills, search
 * documents). Files are stored as fixed-size chunks (never one huge ArrayBuffer) plus a small record
 * per file and per model; a file is usable only once its record says `complete`, which is written
 * after every chunk is stored and the SHA-256 verified.
 *
 * Schema versions and their migrations live in `upgrade`: one step per version (2 added skills and documents).
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ServedManifest } from '../model-format.ts';

export const SCHEMA_VERSION = 2;

export interface ModelRecord {
  /** `${baseUrl}@${revision}` (see modelKey) */
  key: string;
  id: string;
  revision: string;
  baseUrl: string;
  /** The model's manifest.json, so an offline reload knows what to expect without the network. */
  manifest: ServedManifest | null;
  lastUsed: number;
  created: number;
}

export interface FileRecord {
  /** `${modelKey}/${path}` */
  key: string;
  modelKey: string;
  path: string;
  url: string;
  /** Expected size when known (manifest, Content-Length, Content-Range). */
  size: number | null;
  /** Expected SHA-256 from the manifest, or the one computed on first download when there is none. */
  sha256: string | null;
  chunkBytes: number;
  /** Chunks 0 … storedChunks−1 are stored. */
  storedChunks: number;
  storedBytes: number;
  complete: boolean;
  lastUsed: number;
}

export interface CacheSchema extends DBSchema {
  models: { key: string; value: ModelRecord };
  files: { key: string; value: FileRecord; indexes: { byModel: string } };
  chunks: { key: [string, number]; value: ArrayBuffer };
  /** Since version 2: skills, by name (see src/skills). */
  skills: { key: string; value: { name: string; file: string; saved: number } };
  /** Since version 2: documents embedded for local search (see src/search), by [collection, id]. */
  documents: { key: [string, string]; value: StoredDocument; indexes: { byCollection: string } };
}

export interface StoredDocument {
  collection: string;
  id: string;
  text: string;
  vector: Float32Array;
  /** `${model id}@${revision}` whose embeddings these are. */
  model: string;
}

export type CacheDb = IDBPDatabase<CacheSchema>;

export function openDatabase(name: string): Promise<CacheDb> {
  return openDB<CacheSchema>(name, SCHEMA_VERSION, {
    upgrade(db, oldVersion) {
      // A database at version n runs every migration after n, in order.
      if (oldVersion < 1) {
        db.createObjectStore('models', { keyPath: 'key' });
        db.createObjectStore('files', { keyPath: 'key' }).createIndex('byModel', 'modelKey');
        db.createObjectStore('chunks');
      }
      if (oldVersion < 2) {
        db.createObjectStore('skills', { keyPath: 'name' });
        db.createObjectStore('documents', { keyPath: ['collection', 'id'] }).createIndex('byCollection', 'collection');
      }
    },
  });
}

/** Key range covering every chunk of one file. */
export function chunkRange(fileKey: string): IDBKeyRange {
  return IDBKeyRange.bound([fileKey, 0], [fileKey, Number.MAX_SAFE_INTEGER]);
}

/** Key of a model revision: the folder it comes from and its revision. */
export function modelKey(ref: { baseUrl: string; revision: string }): string {
  return `${ref.baseUrl}@${ref.revision}`;
}

/** Key of one file of a model revision. */
export function fileKey(ref: { baseUrl: string; revision: string }, path: string): string {
  return `${modelKey(ref)}/${path}`;
}
