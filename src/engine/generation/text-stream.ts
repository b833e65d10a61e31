/**
 * Turns generated token ids into text chunks that are safe to show as they arrive: a character split
 * across byte-fallback tokens is held back until complete, and text that might be the start of a stop
 * string is held back until it is known not to be one.
 */
export type Decode = (ids: number[]) => string;

/** Incremental detokenizer that decodes only a short sliding window, so each step costs O(1). */
export class TokenTextStream {
  private window: number[];
  private contextLength: number;
  private contextText: string;
  /** Text of `window` after the context that has already been returned. */
  private emitted = '';

  /** `context`: the last few prompt ids, so the first generated piece keeps its leading space. */
  constructor(
    private readonly decode: Decode,
    context: number[],
  ) {
    this.window = context.slice(-4);
    this.contextLength = this.window.length;
    this.contextText = decode(this.window);
  }

  /** Adds a token; returns the text that became final. */
  push(id: number): string {
    this.window.push(id);
    const text = this.decode(this.window).slice(this.contextText.length);
    // U+FFFD at the end means a multi-byte character whose remaining bytes are still to come.
    const stable = text.replace(/\uFFFD+$/, '');
    const fresh = stable.slice(this.emitted.length);
    this.emitted = stable;
    if (stable.length === text.length && this.window.length - this.contextLength > 16) {
      this.window = this.window.slice(-4);
      this.contextLength = this.window.length;
      this.contextText = this.decode(this.window);
      this.emitted = '';
    }
    return fresh;
  }

  /** Whatever is still held back (an incomplete character at the very end). */
  flush(): string {
    const text = this.decode(this.window).slice(this.contextText.length);
    const rest = text.slice(this.emitted.length);
    this.emitted = text;
    return rest;
  }
}

export class StopStringFilter {
  private held = '';

  constructor(private readonly stops: string[]) {}

  /** Returns the text that may be shown and whether a stop string was reached (text before it only). */
  push(text: string): { text: string; stopped: boolean } {
    const buffer = this.held + text;
    let cut = -1;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.held = '';
      return { text: buffer.slice(0, cut), stopped: true };
    }
    let keep = 0;
    for (const stop of this.stops) {
      for (let len = Math.min(stop.length - 1, buffer.length); len > keep; len--) {
        if (buffer.endsWith(stop.slice(0, len))) {
          keep = len;
          break;
        }
      }
    }
    this.held = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}
