/**
 * A local HTTP server for model files with Range support, byte counting and injectable faults, used by
 * the Node cache tests. (The browser tests get the same from a preview-server middleware.)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type Fault =
  | { kind: 'drop-after'; bytes: number } // close the connection after this many body bytes
  | { kind: 'hold-after'; bytes: number } // send this many body bytes, then wait for dropHeld()
  | { kind: 'status'; status: number }
  | { kind: 'html' }
  | { kind: 'bitflip' }
  | { kind: 'truncate'; bytes: number } // a complete but shorter file
  | { kind: 'ignore-range' };

export interface ServedRequest {
  path: string;
  range: string | null;
  status: number;
  bytes: number;
}

export interface FileServer {
  url: string;
  files: Map<string, Uint8Array>;
  faults: Map<string, Fault>;
  requests: ServedRequest[];
  bytesServed(path: string): number;
  close(): Promise<void>;
}

/** Responses stalled by a 'hold-after' fault, until the test has seen what the client did with their bytes. */
const held = new Set<ServerResponse>();

/** Ends every held response short of its Content-Length: the client sees the connection drop. */
export function dropHeld(): number {
  const count = held.size;
  for (const res of held) res.socket?.end();
  held.clear();
  return count;
}

export function respond(req: IncomingMessage, res: ServerResponse, body: Uint8Array | undefined, fault: Fault | undefined, log: (r: ServedRequest) => void, path: string): void {
  const range = req.headers.range ?? null;
  const record = (status: number, bytes: number): void => log({ path, range, status, bytes });
  if (!body) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return record(404, 0);
  }
  if (fault?.kind === 'status') {
    res.writeHead(fault.status, { 'content-type': 'text/plain' }).end('error');
    return record(fault.status, 0);
  }
  if (fault?.kind === 'html') {
    const html = Buffer.from('<!doctype html><html><body>app</body></html>');
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': html.byteLength }).end(html);
    return record(200, html.byteLength);
  }
  let data = Buffer.from(body);
  if (fault?.kind === 'bitflip') {
    data = Buffer.from(data);
    data[Math.floor(data.byteLength / 2)]! ^= 0x01;
  }
  if (fault?.kind === 'truncate') data = data.subarray(0, fault.bytes);
  const type = path.endsWith('.json') ? 'application/json' : 'application/octet-stream';
  const match = /^bytes=(\d+)-$/.exec(range ?? '');
  let status = 200;
  let start = 0;
  const headers: Record<string, string | number> = { 'content-type': type, 'accept-ranges': 'bytes' };
  if (match && fault?.kind !== 'ignore-range') {
    start = Number(match[1]);
    if (start >= data.byteLength) {
      res.writeHead(416, { 'content-range': `bytes */${data.byteLength}` }).end();
      return record(416, 0);
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${data.byteLength - 1}/${data.byteLength}`;
  }
  const slice = data.subarray(start);
  headers['content-length'] = slice.byteLength;
  res.writeHead(status, headers);
  if (fault?.kind === 'hold-after') {
    const part = slice.subarray(0, Math.max(0, fault.bytes - start));
    res.write(part);
    held.add(res);
    res.on('close', () => held.delete(res));
    return record(status, part.byteLength);
  }
  if (fault?.kind === 'drop-after') {
    const part = slice.subarray(0, Math.max(0, fault.bytes - start));
    // End the connection cleanly (FIN after the data): the client receives every byte counted as served,
    // then a body shorter than Content-Length. Destroying the socket instead would discard unread data.
    res.write(part, () => res.socket?.end());
    return record(status, part.byteLength);
  }
  res.end(slice);
  record(status, slice.byteLength);
}

export async function startFileServer(files: Record<string, Uint8Array>): Promise<FileServer> {
  const state = { files: new Map(Object.entries(files)), faults: new Map<string, Fault>(), requests: [] as ServedRequest[] };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    respond(req, res, state.files.get(path), state.faults.get(path), (r) => state.requests.push(r), path);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    ...state,
    bytesServed: (path) => state.requests.filter((r) => r.path === path).reduce((n, r) => n + r.bytes, 0),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
