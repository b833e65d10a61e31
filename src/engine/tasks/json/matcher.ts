/**
 * A byte-level pushdown matcher for JSON documents valid against a compiled schema. `feed(byte)` says
 * whether the byte can continue a valid document; `complete` says whether what was fed is one. Objects
 * list their properties in schema order (optional ones may be left out), at most one space stands
 * between tokens, and strings hold no escapes or control characters: every accepted prefix can still
 * be completed, so generation never gets stuck. A union (anyOf, oneOf, a list of types) is followed
 * down every alternative at once, each as its own stack (a path), until the bytes rule all but one out.
 */
import { LIMITS, type Node } from './schema.ts';

type ObjectNode = Extract<Node, { kind: 'object' }>;
type ArrayNode = Extract<Node, { kind: 'array' }>;
type StringNode = Extract<Node, { kind: 'string' }>;
type NumberNode = Extract<Node, { kind: 'number' }>;

type Frame =
  | { t: 'value'; node: Node; ws: number }
  | { t: 'string'; node: StringNode; len: number; cont: number; lead: number; bytes: number[] | null; enumBytes: number[][] | null; states: number[] | null }
  | { t: 'number'; node: NumberNode; state: NumberState; digits: number; text: string }
  | { t: 'literal'; options: number[][]; pos: number; onDone: 'value' | 'key'; keys: number[] | null }
  | { t: 'object'; node: ObjectNode; next: number; state: 'open' | 'colon' | 'after' | 'comma'; chosen: number; ws: number }
  | { t: 'array'; node: ArrayNode; count: number; state: 'open' | 'after' | 'next' | 'item'; ws: number };

type NumberState = 'sign' | 'zero' | 'int' | 'dot' | 'frac' | 'e' | 'esign' | 'exp';
const ACCEPTING = new Set<NumberState>(['zero', 'int', 'frac', 'exp']);
const SPACE = 0x20;
const QUOTE = 0x22;
const enc = new TextEncoder();
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
/** Bytes that can ever occur in an output (the grammar has no control characters). */
const CANDIDATES = [...Array.from({ length: 0x7f - 0x20 }, (_, i) => 0x20 + i), ...Array.from({ length: 0xf5 - 0x80 }, (_, i) => 0x80 + i)];

export class JsonMatcher {
  private constructor(private paths: Path[]) {}

  static start(root: Node): JsonMatcher {
    return new JsonMatcher([new Path([{ t: 'value', node: root, ws: 0 }], false)]);
  }

  clone(): JsonMatcher {
    return new JsonMatcher(this.paths.map((p) => p.clone()));
  }

  /** True when the bytes fed so far are a complete document (nothing more is needed). */
  get complete(): boolean {
    return this.paths.some((p) => p.complete);
  }

  /**
   * Inside a string without enum or pattern and between characters: how many more characters it may
   * take. Null elsewhere. Lets the token mask treat plain string content in one pass.
   */
  plainStringRoom(): number | null {
    return this.paths.length === 1 ? this.paths[0]!.plainStringRoom() : null;
  }

  /** Feeds one byte; false (leaving the matcher unusable) when no valid document continues with it. */
  feed(b: number): boolean {
    const next: Path[] = [];
    for (const p of this.paths) {
      const forks: Path[] = [];
      if (p.feed(b, forks)) next.push(p);
      next.push(...forks);
    }
    if (next.length > 1) {
      // Alternatives that reached the same state (anyOf [integer, number] after "1") are one path.
      const seen = new Set<string>();
      this.paths = next.filter((p) => !seen.has(p.key()) && !!seen.add(p.key()));
    } else this.paths = next;
    return next.length > 0;
  }

  /**
   * False when `feed(b)` would certainly fail: a check without copying the matcher, so that a trie walk
   * can skip most first bytes of tokens at once (true means "feed decides").
   */
  mayAccept(b: number): boolean {
    return this.paths.some((p) => p.mayAccept(b));
  }

  /**
   * What decides the allowed next bytes: matchers with equal keys accept exactly the same
   * continuations, so a token mask computed for one serves the other.
   */
  key(): string {
    return this.paths.map((p) => p.key()).join('||');
  }

  /**
   * The bytes the schema forces next: while exactly one byte can follow (and the document is not yet
   * complete), that byte. Empty when the next byte is a choice.
   */
  forced(limit = 64): number[] {
    const out: number[] = [];
    let m: JsonMatcher = this;
    while (out.length < limit && !m.complete) {
      let only: JsonMatcher | null = null;
      let byte = -1;
      for (const b of CANDIDATES) {
        const c = m.clone();
        if (!c.feed(b)) continue;
        if (only) return out;
        only = c;
        byte = b;
      }
      if (!only) break;
      out.push(byte);
      m = only;
    }
    return out;
  }
}

/** One way of reading the bytes so far: a stack of open values. */
class Path {
  constructor(
    private readonly stack: Frame[],
    private finished: boolean,
  ) {}

  clone(): Path {
    return new Path(
      // Frames are copied; arrays in them are replaced rather than mutated, except a string's bytes.
      this.stack.map((f) => (f.t === 'string' && f.bytes ? { ...f, bytes: [...f.bytes] } : { ...f })),
      this.finished,
    );
  }

  get complete(): boolean {
    if (this.finished) return true;
    if (this.stack.length !== 1) return false;
    const top = this.stack[0]!;
    return (top.t === 'number' && numberDone(top)) || (top.t === 'literal' && top.options.some((o) => o.length === top.pos));
  }

  plainStringRoom(): number | null {
    const top = this.stack.at(-1);
    return top?.t === 'string' && !top.bytes && !top.states && top.cont === 0 ? top.node.maxLength - top.len : null;
  }

  key(): string {
    if (this.finished) return 'done';
    return this.stack.map(frameKey).join('/');
  }

  mayAccept(b: number): boolean {
    const top = this.stack.at(-1);
    if (!top) return false;
    const space = b === SPACE && top.t !== 'string' && top.t !== 'number' && top.t !== 'literal' && top.ws < 1;
    switch (top.t) {
      case 'value':
        return space || startsValue(top.node, b);
      case 'object':
        if (space) return true;
        if (top.state === 'colon') return b === 0x3a;
        if (top.state === 'comma') return b === QUOTE;
        return b === 0x7d || b === (top.state === 'open' ? QUOTE : 0x2c);
      case 'array':
        if (b === SPACE || b === 0x5d) return true; // a space may also start the next item's value
        return top.state === 'after' ? b === 0x2c : startsValue(top.node.items, b);
      default:
        return true;
    }
  }

  /** Feeds one byte; where a union starts, the alternatives that take the byte go to `forks` instead. */
  feed(b: number, forks: Path[]): boolean {
    for (;;) {
      const top = this.stack.at(-1);
      if (!top) return false; // the document is complete: nothing may follow
      switch (top.t) {
        case 'value': {
          if (b === SPACE && top.ws < 1) {
            top.ws++;
            return true;
          }
          return this.startValue(top.node, b, forks);
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
            top.text += String.fromCharCode(b);
            return numberReachable(top);
          }
          if (!numberDone(top)) return false;
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

  private startValue(node: Node, b: number, forks: Path[]): boolean {
    const replace = (f: Frame): true => {
      this.stack[this.stack.length - 1] = f;
      return true;
    };
    switch (node.kind) {
      case 'object':
        return b === 0x7b /* { */ && replace({ t: 'object', node, next: 0, state: 'open', chosen: -1, ws: 0 });
      case 'array':
        return b === 0x5b /* [ */ && replace({ t: 'array', node, count: 0, state: 'open', ws: 0 });
      case 'string': {
        const enumBytes = node.enum ? node.enum.map((v) => [...enc.encode(v)]) : null;
        return b === QUOTE && replace({ t: 'string', node, len: 0, cont: 0, lead: 0, bytes: node.enum ? [] : null, enumBytes, states: node.pattern?.start ?? null });
      }
      case 'number': {
        const f: Frame = { t: 'number', node, state: 'sign', digits: 0, text: String.fromCharCode(b) };
        const next = b === 0x2d /* - */ ? 'sign' : numberStep(f, b);
        if (!next) return false;
        f.state = next;
        if (isDigit(b)) f.digits = 1;
        return numberReachable(f) && replace(f);
      }
      case 'union': {
        for (const option of node.options) {
          const fork = this.clone();
          fork.stack[fork.stack.length - 1] = { t: 'value', node: option, ws: 0 };
          if (fork.startValue(option, b, forks)) forks.push(fork);
        }
        return false;
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
      // After E0, ED, F0 and F4 the next byte has a narrower range: no overlong forms, surrogates or code points past U+10FFFF.
      const [lo, hi] = f.lead === 0xe0 ? [0xa0, 0xbf] : f.lead === 0xed ? [0x80, 0x9f] : f.lead === 0xf0 ? [0x90, 0xbf] : f.lead === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
      if (b < lo || b > hi) return false;
      f.lead = 0;
      f.cont--;
    } else if (f.states) {
      // A pattern: ASCII only, and the match must stay finishable within the length bounds.
      if (b === QUOTE) {
        if (f.len < f.node.minLength || !f.node.pattern!.finishable(f.states, 0, 0)) return false;
        this.finishValue();
        return true;
      }
      const states = f.node.pattern!.step(f.states, b);
      const len = f.len + 1;
      if (!states.length || !f.node.pattern!.finishable(states, f.node.minLength - len, f.node.maxLength - len)) return false;
      f.states = states;
      f.len = len;
      return true;
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
        f.lead = b;
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

/** Whether a value of the node can start with byte `b`. */
function startsValue(node: Node, b: number): boolean {
  switch (node.kind) {
    case 'object':
      return b === 0x7b;
    case 'array':
      return b === 0x5b;
    case 'string':
      return b === QUOTE;
    case 'number':
      return b === 0x2d || isDigit(b);
    case 'literal':
      return node.values.some((v) => v.charCodeAt(0) === b);
    case 'union':
      return node.options.some((o) => startsValue(o, b));
  }
}

const nodeIds = new WeakMap<Node, number>();
let nextNodeId = 0;
function nodeId(node: Node): number {
  let id = nodeIds.get(node);
  if (id === undefined) nodeIds.set(node, (id = nextNodeId++));
  return id;
}

function frameKey(f: Frame): string {
  switch (f.t) {
    case 'value':
      return `v${nodeId(f.node)},${f.ws}`;
    case 'string':
      return `s${nodeId(f.node)},${f.len},${f.cont},${f.lead},${f.bytes?.join('.') ?? ''},${f.states?.join('.') ?? ''}`;
    case 'number':
      return `n${nodeId(f.node)},${f.state},${f.digits}${bounded(f.node) ? `,${f.text}` : ''}`;
    case 'literal':
      return `l${f.pos},${f.onDone},${f.keys?.join('.') ?? ''},${f.options.map((o) => o.join('.')).join(';')}`;
    case 'object':
      return `o${nodeId(f.node)},${f.next},${f.state},${f.chosen},${f.ws}`;
    case 'array':
      return `a${nodeId(f.node)},${f.count},${f.state},${f.ws}`;
  }
}

const bounded = (n: NumberNode): boolean => n.minimum !== null || n.maximum !== null;

/** A finished number: a complete numeral within the bounds. */
function numberDone(f: Extract<Frame, { t: 'number' }>): boolean {
  if (!ACCEPTING.has(f.state)) return false;
  const v = Number(f.text);
  return (f.node.minimum === null || v >= f.node.minimum) && (f.node.maximum === null || v <= f.node.maximum);
}

/**
 * Whether some completion of the numeral so far lies within the bounds. Completions of a prefix
 * ("12", "12.3", "-") fill intervals of magnitudes, one per count of further integer digits.
 */
function numberReachable(f: Extract<Frame, { t: 'number' }>): boolean {
  const { minimum, maximum, integer } = f.node;
  if (minimum === null && maximum === null) return true;
  const lo = minimum ?? -Infinity;
  const hi = maximum ?? Infinity;
  const negative = f.text.startsWith('-');
  const [int = '', frac] = f.text.slice(negative ? 1 : 0).split('.');
  // Magnitude intervals [a, b]; `open` when b itself is not reachable (fraction digits only approach it).
  const spans: Array<[number, number, boolean]> = [];
  if (frac !== undefined) spans.push([Number(`${int}.${frac || '0'}`), Number(`${int}.${frac}`) + 10 ** -frac.length, true]);
  else if (int === '0') spans.push(integer ? [0, 0, false] : [0, 1, true]);
  else {
    const p = Number(int || '0');
    for (let k = int ? 0 : 1; k <= LIMITS.numberDigits - int.length; k++) {
      const a = p * 10 ** k;
      spans.push(integer ? [a, a + 10 ** k - 1, false] : [a, (p + 1) * 10 ** k, true]);
    }
    if (!int) spans.push(integer ? [0, 0, false] : [0, 1, true]);
  }
  return spans.some(([a, b, open]) => {
    // Values: [a, b] or [a, b) for a positive numeral; (-b, -a] or [-b, -a] for a negative one.
    const [x, y] = negative ? [-b, -a] : [a, b];
    const [xOpen, yOpen] = negative ? [open, false] : [false, open];
    if (integer) return Math.max(x, Math.ceil(lo)) <= Math.min(y, Math.floor(hi));
    return (xOpen ? x < hi : x <= hi) && (yOpen ? y > lo : y >= lo);
  });
}

function numberStep(f: { node: NumberNode; state: NumberState }, b: number): NumberState | null {
  const d = isDigit(b);
  // Bounded numbers are written without exponents, so that bounds can be checked digit by digit.
  const e = (b === 0x65 || b === 0x45) && !bounded(f.node);
  switch (f.state) {
    case 'sign':
      return b === 0x30 ? 'zero' : d ? 'int' : null;
    case 'zero':
    case 'int':
      if (f.state === 'int' && d) return 'int';
      if (f.node.integer) return null;
      return b === 0x2e ? 'dot' : e ? 'e' : null;
    case 'dot':
      return d ? 'frac' : null;
    case 'frac':
      return d ? 'frac' : e ? 'e' : null;
    case 'e':
      return b === 0x2b || b === 0x2d ? 'esign' : d ? 'exp' : null;
    case 'esign':
      return d ? 'exp' : null;
    case 'exp':
      return d ? 'exp' : null;
  }
}
