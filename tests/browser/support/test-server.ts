/**
 * Preview-server middleware used only by the harness build: serves /models/** itself (with Range, byte
 * counting and injectable faults, like tests/support/file-server.ts) and exposes /__test/* to control
 * it. `/models/copy-<x>/…` serves stories260k under another address, for tests needing two models;
 * `/hub/…` serves Hub repos in the Hub's own layout and URL shape (a stand-in for huggingface.co).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import { dropHeld, respond, type Fault, type ServedRequest } from '../../support/file-server.ts';

/** Hub repos served under /hub/ exactly as huggingface.co lays them out, from the converted folder of the same model. */
const HUB_REPOS: Record<string, string> = { 'HuggingFaceTB/SmolLM2-135M-Instruct': 'smollm2-135m-instruct' };
/** The files such a Hub repo has: no manifest.json (the converter's own), no gguf/. */
const HUB_FILE = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|onnx\/model(_quantized|_q4|_q4f16)?\.onnx)$/;

/**
 * `/hub/{org}/{name}/resolve/main/{file}` → the folder's file; '' (a 404) for a file the Hub repo lacks;
 * undefined for any other path.
 */
function hubFile(path: string): string | undefined {
  const m = /^\/hub\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(path);
  if (!m) return path.startsWith('/hub/') ? '' : undefined;
  const folder = HUB_REPOS[m[1]!];
  return folder && HUB_FILE.test(m[2]!) ? `${folder}/${m[2]}` : '';
}

export function testServer(modelsDir: string): Plugin {
  const faults = new Map<string, Fault>();
  const requests: ServedRequest[] = [];
  return {
    name: 'browser-slm-test-server',
    configurePreviewServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = new URL(req.url ?? '/', 'http://x');
        const path = decodeURIComponent(url.pathname);
        if (path === '/__test/requests') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(requests));
        if (path === '/__test/reset') {
          requests.length = 0;
          faults.clear();
          return void res.writeHead(204).end();
        }
        if (path === '/__test/drop') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ dropped: dropHeld() }));
        if (path === '/__test/fault') {
          const target = url.searchParams.get('path')!;
          const fault = url.searchParams.get('fault');
          if (fault) faults.set(target, JSON.parse(fault) as Fault);
          else faults.delete(target);
          return void res.writeHead(204).end();
        }
        const hub = hubFile(path);
        if (!path.startsWith('/models/') && hub === undefined) return next();
        const relative = hub ?? path.slice('/models/'.length).replace(/^copy-[\w-]+\//, 'stories260k/');
        const file = join(modelsDir, relative);
        const body = existsSync(file) && statSync(file).isFile() ? new Uint8Array(readFileSync(file)) : undefined;
        respond(req, res, body, faults.get(path), (r) => requests.push(r), path);
      });
    },
  };
}
