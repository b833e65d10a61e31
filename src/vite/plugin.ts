/**
 * Vite plugin for apps that embed the runtime: serves onnxruntime-web's .mjs/.wasm from the app itself
 * (dev server and built dist/ort/), so nothing is fetched from a CDN, offline use and strict CSP work;
 * sends the cross-origin isolation headers WASM threads need; and resolves onnxruntime-web to its
 * "extern wasm" builds, which load their glue from those files instead of inlining it.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defaultClientConditions, type Plugin } from 'vite';

/** The WASM build (CPU) and the WebGPU build (asyncify) of ORT: nothing else is ever requested. */
export const ORT_FILES = [
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort-wasm-simd-threaded.asyncify.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
] as const;

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function ortDistDir(): string {
  const require = createRequire(import.meta.url);
  // package.json is not exported; the wasm files are, and live in dist/.
  return dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

export interface SlmPluginOptions {
  /** Folder (below the app base) the ORT files are served from; must match RuntimeEnv.ortBaseUrl. */
  ortPath?: string;
  /** Extra response headers for dev and preview, e.g. a Content-Security-Policy. */
  headers?: Record<string, string>;
}

export function slmRuntime(options: SlmPluginOptions = {}): Plugin {
  const ortPath = (options.ortPath ?? 'ort').replace(/^\/|\/$/g, '');
  const dist = ortDistDir();
  const headers = { ...ISOLATION_HEADERS, ...options.headers };
  return {
    name: 'browser-slm-runtime',
    config: () => ({
      resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
      worker: { format: 'es' },
      // Pre-bundling would copy ORT into transformers.js's chunk and ours: keep one module instance.
      optimizeDeps: { exclude: ['onnxruntime-web', '@huggingface/transformers'] },
      server: { headers },
      preview: { headers },
    }),
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const base = server.config.base.replace(/\/$/, '');
        const name = req.url?.split('?')[0]?.slice(`${base}/${ortPath}/`.length);
        if (!req.url?.startsWith(`${base}/${ortPath}/`) || !ORT_FILES.includes(name as (typeof ORT_FILES)[number])) return next();
        const file = join(dist, name!);
        res.setHeader('Content-Type', name!.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        res.setHeader('Content-Length', statSync(file).size);
        for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
        createReadStream(file).pipe(res);
      });
    },
    generateBundle() {
      for (const name of ORT_FILES) {
        this.emitFile({ type: 'asset', fileName: `${ortPath}/${name}`, source: readFileSync(join(dist, name)) });
      }
    },
  };
}
