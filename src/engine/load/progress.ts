/** Load progress as the caller sees it: each event carries the running byte totals of the whole load. */
import type { ByteSource, ProgressEvent } from '../../types.ts';

export class LoadProgress {
  private readonly bytes: Record<ByteSource, number> = { network: 0, cache: 0, 'other-tab': 0 };
  /** Expected bytes of every file, when the manifest lists them all. */
  totalBytes: number | undefined;

  constructor(private readonly listener?: (event: ProgressEvent) => void) {}

  /** Counts `delta` more bytes of a file from `source`. */
  add(source: ByteSource, delta: number): void {
    this.bytes[source] += delta;
  }

  emit(e: Pick<ProgressEvent, 'phase' | 'file' | 'source' | 'loaded' | 'total'>): void {
    this.listener?.({
      ...e,
      networkBytes: this.bytes.network,
      cacheBytes: this.bytes.cache,
      totalLoaded: this.bytes.network + this.bytes.cache,
      ...(this.totalBytes !== undefined && { totalBytes: this.totalBytes }),
    });
  }
}
