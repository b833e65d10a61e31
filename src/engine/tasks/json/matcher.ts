/**
 * A byte-level pushdown matcher for JSON documents valid against a compiled schema. `feed(byte)` says
 * whether the byte can continue a valid document; `complete` says whether what was fed is one. Objects
 * list their properties in schema order (optional ones may be left out), at most one space stands
 * between tokens, and strings hold no escapes or control characters: every accepted prefix can still
 * be completed, so generation never gets stuck.
 */
import { LIMITS, type Node } from './schema.ts';

type ObjectNode = Extract<Node, { kind: 'object' }>;
type ArrayNode = Extract<Node, { kind: 'array' }>;
type StringNode = Extract<Node, { kind: 'string' }>;

type Frame =
  | { t: 'value'; node: Node; ws: number }
  | { t: 'string'; node: StringNode; len: number; cont: number; lo: number; hi: number; bytes: number[] | null; enumBytes: number[][] | null }
  | { t: 'number'; integer: boolean; state: NumberState; digits: number }
  | { t: 'literal'; options: number[][]; pos: number; onDone: 'value' | 'key'; keys: number[] | null }
  | { t: 'object'; node: ObjectNode; next: number; state: 'open' | 'colon' | 'after' | 'comma'; chosen: number; ws: number }
  | { t: 'array'; node: ArrayNode; count: number; state: 'open' | 'after' | 'next' | 'item'; ws: number };

type NumberState = 'sign' | 'zero' | 'int' | 'dot' | 'frac' | 'e' | 'esign' | 'exp';
const ACCEPTING = new Set<NumberState>(['zero', 'int', 'frac', 'exp']);
const SPACE = 0x20;
const QUOTE = 0x22;
const enc = new TextEncoder();
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;

export class JsonMatcher {
  private constructor(
    private stack: Frame[],
    private finished: boolean,
  ) {}

  static start(root: Node): JsonMatcher {
    return new JsonMatcher([{ t: 'value', node: root, ws: 0 }], false);
  }

  clone(): JsonMatcher {
    return new JsonMatcher(
      // Frames are copied; arrays in them are replaced rather than mutated, except a string's bytes.
      this.stack.map((f) => (f.t === 'string' && f.bytes ? { ...f, bytes: [...f.bytes] } : { ...f })),
      this.finished,
    );
  }

  /** True when the bytes fed so far are a complete document (nothing more is needed). */
  get complete(): boolean {
    if (this.finished) return true;
    if (this.stack.length !== 1) return false;
    const top = this.stack[0]!;
    return (top.t === 'number' && ACCEPTING.has(top.state)) || (top.t === 'literal' && top.options.some((o) => o.length === top.pos));
  }

  /**
   * Inside a string without enum and between characters: how many more characters it may take.
   * Null elsewhere. Lets the token mask treat plain string content in one pass.
   */
  plainStringRoom(): number | null {
    const top = this.stack.at(-1);
    return top?.t === 'string' && !top.bytes && top.cont === 0 ? top.node.maxLength - top.len : null;
  }

  /** Feeds one byte; false (leaving the matcher unusable) when no valid document continues with it. */
  feed(b: number): boolean {
    for (;;) {
      const top = this.stack.at(-1);
      if (!top) return false; // the document is complete: nothing may follow
      switch (top.t) {
        case 'value': {
          if (b === SPACE && top.ws < 1) {
            top.ws++;
            return true;
          }
          return this.startValue(top.node, b);
        }
        case 'string':
          return this.feedString(top, b);
        case 'number': {
          const next = numberStep(top, b);
          if (next) {
            // Digits are capped per part (integer, fraction, exponent) so no part can block the next.
            if (next === 'dot' || next === 'e') top.digits = 0;
            if (isDigit(b) && ++top.digits > (next === 'exp' ? 3 : LIMITS.numberDigits)) return false;
            top.state = next;
            return true;
          }
          if (!ACCEPTING.has(top.state)) return false;
          this.finishValue();
          continue; // the byte belongs to the enclosing value
        }
        case 'literal': {
          const keep = top.options.flatMap((o, i) => (o[top.pos] === b ? [i] : []));
          if (keep.length) {
            const options = keep.map((i) => top.options[i]!);
            top.options = options;
            if (top.keys) top.keys = keep.map((i) => top.keys![i]!);
            top.pos++;
            if (options.length === 1 && options[0]!.length === top.pos) this.finishLiteral(top);
            return true;
          }
          if (!top.options.some((o) => o.length === top.pos)) return false;
          this.finishLiteral(top);
          continue;
        }
        case 'object':
          return this.feedObject(top, b);
        case 'array': {
          if (b === SPACE && top.ws < 1 && top.state !== 'item') {
            top.ws++;
            return true;
          }
          top.ws = 0;
          if ((top.state === 'open' || top.state === 'after') && b === 0x5d /* ] */) {
            if (top.count < top.node.minItems) return false;
            this.finishValue();
            return true;
          }
          if (top.state === 'after') {
            if (b !== 0x2c /* , */ || top.count >= top.node.maxItems) return false;
            top.state = 'next';
            return true;
          }
          if (top.count >= top.node.maxItems) return false;
          top.state = 'item';
          this.stack.push({ t: 'value', node: top.node.items, ws: 0 });
          continue;
        }
      }
    }
  }

  private startValue(node: Node, b: number): boolean {
    const replace = (f: Frame): true => {
      this.stack[this.stack.length - 1] = f;
      return true;
    };
    switch (node.kind) {
      case 'object':
        return b === 0x7b /* { */ && replace({ t: 'object', node, next: 0, state: 'open', chosen: -1, ws: 0 });
      case 'array':
        return b === 0x5b /* [ */ && replace({ t: 'array', node, count: 0, state: 'open', ws: 0 });
      case 'string':
        return b === QUOTE && replace({ t: 'string', node, len: 0, cont: 0, lo: 0x80, hi: 0xbf, bytes: node.enum ? [] : null, enumBytes: node.enum ? node.enum.map((v) => [...enc.encode(v)]) : null });
      case 'number': {
        const f: Frame = { t: 'number', integer: node.integer, state: 'sign', digits: 0 };
        const next = b === 0x2d /* - */ ? 'sign' : numberStep(f, b);
        if (!next) return false;
        f.state = next;
        if (isDigit(b)) f.digits = 1;
        return replace(f);
      }
      case 'literal': {
        const options = node.values.map((v) => [...enc.encode(v)]).filter((o) => o[0] === b);
        if (!options.length) return false;
        const f: Frame = { t: 'literal', options, pos: 1, onDone: 'value', keys: null };
        replace(f);
        if (options.length === 1 && options[0]!.length === 1) this.finishLiteral(f);
        return true;
      }
    }
  }

  private feedString(f: Extract<Frame, { t: 'string' }>, b: number): boolean {
    if (f.cont > 0) {
      if (b < f.lo || b > f.hi) return false;
      f.cont--;
      f.lo = 0x80;
      f.hi = 0xbf;
    } else if (b === QUOTE) {
      if (f.len < f.node.minLength) return false;
      if (f.enumBytes && !f.enumBytes.some((e) => e.length === f.bytes!.length && e.every((x, i) => x === f.bytes![i]))) return false;
      this.finishValue();
      return true;
    } else {
      if (b < 0x20 || b === 0x5c /* \ */ || b === 0x7f) return false;
      if (b >= 0x80) {
        if (b < 0xc2 || b > 0xf4) return false;
        f.cont = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1;
        // The second byte's range rules out overlong forms, surrogates and code points above U+10FFFF.
        f.lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
        f.hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
      }
      if (++f.len > f.node.maxLength) return false;
    }
    if (f.bytes) {
      f.bytes.push(b);
      const n = f.bytes.length;
      if (!f.enumBytes!.some((e) => e.length >= n && e[n - 1] === b && f.bytes!.every((x, i) => x === e[i]))) return false;
    }
    return true;
  }

  private feedObject(f: Extract<Frame, { t: 'object' }>, b: number): boolean {
    const props = f.node.properties;
    if (b === SPACE && f.ws < 1) {
      f.ws++;
      return true;
    }
    f.ws = 0;
    const canClose = props.slice(f.next).every((p) => !p.required);
    switch (f.state) {
      case 'open':
      case 'comma': {
        if (b === 0x7d /* } */ && f.state === 'open' && canClose) {
          this.finishValue();
          return true;
        }
        if (b !== QUOTE) return false;
        // Any later property may come next, but none may skip a required one.
        const keys: number[] = [];
        for (let i = f.next; i < props.length; i++) {
          keys.push(i);
          if (props[i]!.required) break;
        }
        if (!keys.length) return false;
        this.stack.push({ t: 'literal', options: keys.map((i) => [...enc.encode(props[i]!.name), QUOTE]), pos: 0, onDone: 'key', keys });
        return true;
      }
      case 'colon':
        if (b !== 0x3a /* : */) return false;
        f.state = 'after';
        this.stack.push({ t: 'value', node: props[f.chosen]!.node, ws: 0 });
        return true;
      case 'after':
        if (b === 0x7d && canClose) {
          this.finishValue();
          return true;
        }
        if (b !== 0x2c || f.next >= props.length) return false;
        f.state = 'comma';
        return true;
    }
  }

  private finishLiteral(f: Extract<Frame, { t: 'literal' }>): void {
    if (f.onDone === 'value') return this.finishValue();
    // A property name (quoted names are never prefixes of one another, so exactly one matched).
    const chosen = f.keys![f.options.findIndex((o) => o.length === f.pos)]!;
    this.stack.pop();
    const parent = this.stack.at(-1) as Extract<Frame, { t: 'object' }>;
    parent.chosen = chosen;
    parent.next = chosen + 1;
    parent.state = 'colon';
  }

  /** Pops a finished value and tells its container. */
  private finishValue(): void {
    this.stack.pop();
    const parent = this.stack.at(-1);
    if (!parent) {
      this.finished = true;
      return;
    }
    if (parent.t === 'array') {
      parent.count++;
      parent.state = 'after';
    }
    // An object parent is already in state 'after' (set when its value was pushed).
  }
}

function numberStep(f: { integer: boolean; state: NumberState }, b: number): NumberState | null {
  const d = isDigit(b);
  switch (f.state) {
    case 'sign':
      return b === 0x30 ? 'zero' : d ? 'int' : null;
    case 'zero':
    case 'int':
      if (f.state === 'int' && d) return 'int';
      if (f.integer) return null;
      return b === 0x2e ? 'dot' : b === 0x65 || b === 0x45 ? 'e' : null;
    case 'dot':
      return d ? 'frac' : null;
    case 'frac':
      return d ? 'frac' : b === 0x65 || b === 0x45 ? 'e' : null;
    case 'e':
      return b === 0x2b || b === 0x2d ? 'esign' : d ? 'exp' : null;
    case 'esign':
      return d ? 'exp' : null;
    case 'exp':
      return d ? 'exp' : null;
  }
}
