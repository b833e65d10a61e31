import { DEFAULT_CACHE, type CacheConfig } from './storage/weight-cache.ts';

/** The one place to configure where the runtime finds things. Plain data, so it crosses into the worker. */
export interface RuntimeEnv {
  /** Relative folder URLs given to load() ("./models/x/") resolve against it, as fetch() on the page would. */
  pageUrl: string;
  /** Bundled model ids resolve to `${modelBaseUrl}${id}/`. */
  modelBaseUrl: string;
  /** Folder serving onnxruntime-web's .mjs/.wasm files (never a CDN by default). */
  ortBaseUrl: string;
  /** Host for Hub repo ids such as "org/name": files come from `${hubHost}/${repo}/resolve/${revision}/`. */
  hubHost: string;
  /** IndexedDB weight cache: database name, chunk size, optional byte budget (LRU eviction beyond it). */
  cache: CacheConfig;
}

/** Defaults for an app served from `appBase` (the app's base URL), on the page at `pageUrl`. */
export function defaultEnv(appBase: string, pageUrl = appBase): RuntimeEnv {
  return {
    pageUrl,
    modelBaseUrl: new URL('models/', appBase).href,
    ortBaseUrl: new URL('ort/', appBase).href,
    hubHost: 'https://huggingface.co',
    cache: DEFAULT_CACHE,
  };
}
