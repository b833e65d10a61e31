/**
 * Cross-tab coordination: Web Locks so one tab at a time works on a name (a manifest, a file), and a
 * BroadcastChannel on which the tab downloading a file tells the waiting tabs how far it got.
 */
import { AbortError } from '../errors.ts';

const PROGRESS_CHANNEL = 'browser-slm-download-progress';

/** Runs `fn` holding this origin's Web Lock `name` (one tab at a time); without Web Locks it just runs. */
export async function withLock<T>(name: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) return fn();
  try {
    return await locks.request(`browser-slm:${name}`, signal ? { signal } : {}, fn);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw new AbortError(`waiting for another tab (${name}) was aborted`, { cause: err });
    throw err;
  }
}

/**
 * Downloads under the file's lock so one tab fetches while others wait; waiters receive the holder's
 * progress over a BroadcastChannel until they get the lock (and then find the file complete).
 */
export async function withProgressLock<T>(
  key: string,
  signal: AbortSignal | undefined,
  onOtherTabProgress: (loaded: number, total: number | undefined) => void,
  fn: (broadcast: (loaded: number, total: number | undefined) => void) => Promise<T>,
): Promise<T> {
  const channel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(PROGRESS_CHANNEL) : null;
  const listen = (e: MessageEvent<{ key: string; loaded: number; total?: number }>): void => {
    if (e.data.key === key) onOtherTabProgress(e.data.loaded, e.data.total);
  };
  channel?.addEventListener('message', listen);
  try {
    return await withLock(`file:${key}`, signal, () => {
      channel?.removeEventListener('message', listen);
      return fn((loaded, total) => channel?.postMessage({ key, loaded, total }));
    });
  } finally {
    channel?.close();
  }
}
