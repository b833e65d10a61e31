/**
 * The models the picker offers, read from what the converter wrote (models/index.json and each model's
 * manifest.json): what each is and how big its weights are, with nothing written here per model. Offline,
 * when those files cannot be fetched, the models in the weight cache are what can be loaded.
 */
import type { CachedModel, Dtype } from '../src/index.ts';

export interface CatalogModel {
  id: string;
  kind: 'decoder' | 'encoder';
  /** Where the model comes from (the manifest's provenance and licence). */
  about: string;
  /** Bytes of each dtype's weights file; only the dtypes the model has. */
  weightBytes: Partial<Record<Dtype, number>>;
}

interface IndexFile {
  models: Array<{ id: string; kind?: 'decoder' | 'encoder' }>;
}
interface ManifestFile {
  source?: { provenance?: string; license?: string };
  dtypes?: Partial<Record<Dtype, { file: string }>>;
  files?: Record<string, { bytes: number }>;
}

async function json<T>(url: URL): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

async function fromServer(base: URL): Promise<CatalogModel[]> {
  const index = await json<IndexFile>(new URL('models/index.json', base));
  return Promise.all(
    index.models.map(async ({ id, kind = 'decoder' }) => {
      const manifest = await json<ManifestFile>(new URL(`models/${id}/manifest.json`, base));
      const weightBytes: CatalogModel['weightBytes'] = {};
      for (const [dtype, { file }] of Object.entries(manifest.dtypes ?? {})) weightBytes[dtype as Dtype] = manifest.files?.[file]?.bytes;
      const { provenance = 'no provenance given', license } = manifest.source ?? {};
      return { id, kind, about: license ? `${provenance} · licence ${license}` : provenance, weightBytes };
    }),
  );
}

/** The picker's models: from the server, or from the cache when the server cannot be reached. */
export async function loadCatalog(base: URL, cached: () => Promise<CachedModel[]>): Promise<CatalogModel[]> {
  try {
    return await fromServer(base);
  } catch {
    return (await cached()).map((m) => ({ id: m.id, kind: 'decoder', about: 'offline: the copy in this browser’s cache', weightBytes: {} }));
  }
}
