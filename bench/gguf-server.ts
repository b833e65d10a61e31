/**
 * Serves the original GGUF files that wllama loads (kept under .cache/, outside public/models) on a
 * second local origin, with the CORS and CORP headers a cross-origin-isolated page needs to fetch them.
 */
import { createServer } from 'node:http';
import { respond } from '../tests/support/file-server.ts';

/** `files` maps a name to its bytes; `url(name)` is where the page fetches it. */
export async function startGgufServer(files: Map<string, Uint8Array>): Promise<{ url(name: string): string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    respond(req, res, files.get(path.slice(1)), undefined, () => {}, path);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url: (name) => `${origin}/${encodeURIComponent(name)}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
