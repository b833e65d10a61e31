/**
 * Reads one member of a ZIP archive (a Python wheel is one): the end-of-central-directory record, the
 * central directory entry by name, then the member's stored or deflated data. No ZIP64 (wheels here
 * are far below 4 GB) and no encryption; either is a clear error.
 */
import { inflateRawSync } from 'node:zlib';

export class ZipError extends Error {
  override name = 'ZipError';
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function readZipMember(zip: Uint8Array, member: string, where = 'zip'): Uint8Array {
  const entry = centralDirectory(zip, where).find((e) => e.name === member);
  if (!entry) throw new ZipError(`${where} has no member ${member}`);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  if (entry.localOffset + 30 > zip.byteLength || view.getUint32(entry.localOffset, true) !== LOCAL) {
    throw new ZipError(`${where}: the local header of ${member} is missing; is the file truncated?`);
  }
  const start = entry.localOffset + 30 + view.getUint16(entry.localOffset + 26, true) + view.getUint16(entry.localOffset + 28, true);
  if (start + entry.compressedSize > zip.byteLength) throw new ZipError(`${where}: ${member} runs past the end of the file; is it truncated?`);
  const data = zip.subarray(start, start + entry.compressedSize);
  let out: Uint8Array;
  if (entry.method === 0) out = data.slice();
  else if (entry.method === 8) out = new Uint8Array(inflateRawSync(data));
  else throw new ZipError(`${where}: ${member} uses compression method ${entry.method}; only stored (0) and deflate (8) are read`);
  if (out.byteLength !== entry.size) throw new ZipError(`${where}: ${member} inflated to ${out.byteLength} bytes, the directory says ${entry.size}`);
  return out;
}

interface Entry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function centralDirectory(zip: Uint8Array, where: string): Entry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  // The record is 22 bytes plus a comment of at most 65535, at the very end.
  let eocd = -1;
  for (let p = zip.byteLength - 22; p >= Math.max(0, zip.byteLength - 22 - 0xffff); p--) {
    if (view.getUint32(p, true) === EOCD) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw new ZipError(`${where} is not a ZIP archive (no end-of-central-directory record); is it truncated?`);
  const count = view.getUint16(eocd + 10, true);
  const offset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || offset === 0xffffffff) throw new ZipError(`${where} is a ZIP64 archive, which is not supported`);
  const decoder = new TextDecoder();
  const entries: Entry[] = [];
  for (let p = offset, i = 0; i < count; i++) {
    if (p + 46 > zip.byteLength || view.getUint32(p, true) !== CENTRAL) throw new ZipError(`${where}: central directory entry ${i} is damaged`);
    if (view.getUint16(p + 8, true) & 1) throw new ZipError(`${where}: encrypted members are not supported`);
    const nameLength = view.getUint16(p + 28, true);
    entries.push({
      name: decoder.decode(zip.subarray(p + 46, p + 46 + nameLength)),
      method: view.getUint16(p + 10, true),
      compressedSize: view.getUint32(p + 20, true),
      size: view.getUint32(p + 24, true),
      localOffset: view.getUint32(p + 42, true),
    });
    p += 46 + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
  }
  return entries;
}
