/** Talks to the harness preview server's /__test endpoints from the test process. */
import type { Fault, ServedRequest } from '../../support/file-server.ts';
import { appUrl } from './browser.ts';

export async function resetServer(): Promise<void> {
  await fetch(appUrl('__test/reset'));
}

export async function setFault(path: string, fault: Fault | null): Promise<void> {
  const url = new URL(appUrl('__test/fault'));
  url.searchParams.set('path', path);
  if (fault) url.searchParams.set('fault', JSON.stringify(fault));
  await fetch(url);
}

export async function servedRequests(prefix = '/models/'): Promise<ServedRequest[]> {
  return ((await (await fetch(appUrl('__test/requests'))).json()) as ServedRequest[]).filter((r) => r.path.startsWith(prefix));
}

/** Drops the connections a 'hold-after' fault is holding; returns how many there were. */
export async function dropHeldConnections(): Promise<number> {
  return ((await (await fetch(appUrl('__test/drop'))).json()) as { dropped: number }).dropped;
}
