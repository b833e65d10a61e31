/**
 * Preview-server middleware used only by the harness build: serves /models/** itself (with Range, byte
 * counting and injectable faults, like tests/support/file-server.ts) and exposes /__test/* to control
 * it. `/models/copy-<x>/…` serves stories260k under another address, for tests needing two models.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'vite';
import { dropHeld, respond, type Fault, type ServedRequest } from '../../support/file-server.ts';

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
        if (!path.startsWith('/models/')) return next();
        const relative = path.slice('/models/'.length).replace(/^copy-[\w-]+\//, 'stories260k/');
        const file = join(modelsDir, relative);
        const body = existsSync(file) && statSync(file).isFile() ? new Uint8Array(readFileSync(file)) : undefined;
        respond(req, res, body, faults.get(path), (r) => requests.push(r), path);
      });
    },
  };
}
