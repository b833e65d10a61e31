/**
 * The safe subset of regular expressions a JSON Schema `pattern` (or a `format`) may use, compiled to
 * an NFA over the printable ASCII characters a JSON string can hold without escapes: literals, `.`,
 * classes (`[a-z]`, `[^…]`), `\d \w \s` and their negations, escaped punctuation, groups (`(…)`,
 * `(?:…)`), `|`, and the quantifiers `? * + {n} {n,} {n,m}`; `^` and `$` only at the ends. No
 * back-references, look-arounds or word boundaries: matching stays linear and every prefix the
 * matcher accepts can still be finished within the string's length bounds.
 */

/** Printable ASCII without `"` and `\`: what a string may hold unescaped. */
const UNIVERSE = Uint8Array.from({ length: 128 }, (_, c) => (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? 1 : 0));
const MAX_STATES = 4000;

export class PatternError extends Error {}

type Ast =
  | { k: 'set'; set: Uint8Array }
  | { k: 'seq'; items: Ast[] }
  | { k: 'alt'; items: Ast[] }
  | { k: 'repeat'; item: Ast; min: number; max: number };

const setOf = (pred: (c: number) => boolean): Uint8Array => Uint8Array.from(UNIVERSE, (u, c) => (u && pred(c) ? 1 : 0));
const DIGIT = setOf((c) => c >= 0x30 && c <= 0x39);
const WORD = setOf((c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f);
const SPACE = setOf((c) => c === 0x20); // other whitespace needs escapes in JSON
const complement = (s: Uint8Array): Uint8Array => setOf((c) => !s[c]);
const CLASSES: Record<string, Uint8Array> = { d: DIGIT, w: WORD, s: SPACE, D: complement(DIGIT), W: complement(WORD), S: complement(SPACE) };

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): Ast {
    const body = this.alt();
    if (this.i < this.src.length) throw new PatternError(`unexpected "${this.src[this.i]}" at ${this.i}`);
    return body;
  }

  private alt(): Ast {
    const items = [this.seq()];
    while (this.src[this.i] === '|') {
      this.i++;
      items.push(this.seq());
    }
    return items.length === 1 ? items[0]! : { k: 'alt', items };
  }

  private seq(): Ast {
    const items: Ast[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') items.push(this.quantified(this.atom()));
    return { k: 'seq', items };
  }

  private quantified(item: Ast): Ast {
    const c = this.src[this.i];
    let min: number;
    let max: number;
    if (c === '*' || c === '+' || c === '?') {
      this.i++;
      [min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1];
    } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i))) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i))!;
      this.i += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min || min > 256 || (max !== Infinity && max > 256)) throw new PatternError(`the repetition ${m[0]} is out of range (at most 256)`);
    } else return item;
    if (this.src[this.i] === '?') this.i++; // lazy: the same language
    if (this.i < this.src.length && '*+?{'.includes(this.src[this.i]!)) throw new PatternError(`possessive or nested quantifier at ${this.i}`);
    return { k: 'repeat', item, min, max };
  }

  private atom(): Ast {
    const c = this.src[this.i++]!;
    switch (c) {
      case '(': {
        if (this.src[this.i] === '?') {
          if (this.src[this.i + 1] !== ':') throw new PatternError('look-arounds and named groups are not supported');
          this.i += 2;
        }
        const body = this.alt();
        if (this.src[this.i++] !== ')') throw new PatternError('unclosed group');
        return body;
      }
      case '[':
        return { k: 'set', set: this.charClass() };
      case '.':
        return { k: 'set', set: UNIVERSE };
      case '\\':
        return { k: 'set', set: this.escape() };
      case '^':
      case '$':
        throw new PatternError(`"${c}" is only supported at the start / end of the pattern`);
      case '*':
      case '+':
      case '?':
      case '{':
      case ')':
        throw new PatternError(`unexpected "${c}" at ${this.i - 1}`);
      default: {
        const code = c.charCodeAt(0);
        if (code >= 128 || c.length !== 1) throw new PatternError('only ASCII characters are supported');
        return { k: 'set', set: setOf((x) => x === code) };
      }
    }
  }

  private escape(): Uint8Array {
    const c = this.src[this.i++];
    if (c === undefined) throw new PatternError('a trailing backslash');
    if (CLASSES[c]) return CLASSES[c]!;
    if (/[\^$\\.*+?()[\]{}|/\-]/.test(c)) return setOf((x) => x === c.charCodeAt(0));
    throw new PatternError(`the escape \\${c} is not supported`);
  }

  private charClass(): Uint8Array {
    const negate = this.src[this.i] === '^';
    if (negate) this.i++;
    const set = new Uint8Array(128);
    const add = (s: Uint8Array): void => s.forEach((v, x) => v && (set[x] = 1));
    let first = true;
    while (this.src[this.i] !== ']' || first) {
      first = false;
      if (this.i >= this.src.length) throw new PatternError('unclosed character class');
      let lo: number;
      const c = this.src[this.i++]!;
      if (c === '\\') {
        const e = this.escape();
        if (e.reduce((n, v) => n + v, 0) !== 1) {
          add(e);
          continue;
        }
        lo = e.indexOf(1);
      } else lo = c.charCodeAt(0);
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        let hi = this.src.charCodeAt(this.i++);
        if (hi === 0x5c) hi = this.escape().indexOf(1);
        if (hi < lo) throw new PatternError('a reversed range in a character class');
        add(setOf((x) => x >= lo && x <= hi));
      } else add(setOf((x) => x === lo));
    }
    this.i++;
    return negate ? complement(set) : setOf((x) => set[x] === 1);
  }
}

/** A compiled pattern: a set of NFA states stands for where matching is; state 0 is the start. */
export class Pattern {
  private readonly eps: number[][] = [[]];
  private readonly edges: Array<Array<{ set: Uint8Array; to: number }>> = [[]];
  private readonly accept: number;
  private readonly closures: number[][];
  private readonly stepped = new Map<string, number[]>();
  /** canFinish[r * states + s]: from state s, exactly r more characters can reach the end. */
  private readonly canFinish: Uint8Array;
  readonly start: number[];

  constructor(
    readonly source: string,
    readonly maxLength: number,
  ) {
    let src = source;
    const anchoredStart = src.startsWith('^');
    const anchoredEnd = src.endsWith('$') && !src.endsWith('\\$');
    src = src.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined);
    // JSON Schema patterns are unanchored searches: an open end matches anything.
    const any: Ast = { k: 'repeat', item: { k: 'set', set: UNIVERSE }, min: 0, max: Infinity };
    const ast: Ast = { k: 'seq', items: [...(anchoredStart ? [] : [any]), new Parser(src).parse(), ...(anchoredEnd ? [] : [any])] };
    this.accept = this.build(ast, 0);
    const n = this.eps.length;
    this.closures = Array.from({ length: n }, (_, s) => this.closure([s]));
    this.start = this.closures[0]!;
    this.canFinish = new Uint8Array((maxLength + 1) * n);
    for (let s = 0; s < n; s++) if (this.closures[s]!.includes(this.accept)) this.canFinish[s] = 1;
    for (let r = 1; r <= maxLength; r++) {
      for (let s = 0; s < n; s++) {
        this.canFinish[r * n + s] = this.closures[s]!.some((t) => this.edges[t]!.some((e) => this.canFinish[(r - 1) * n + e.to] === 1)) ? 1 : 0;
      }
    }
  }

  /** The states after `c` (a character code), or an empty list when the pattern cannot take it. */
  step(states: number[], c: number): number[] {
    const key = `${states.join(',')}:${c}`;
    let next = this.stepped.get(key);
    if (!next) {
      const to: number[] = [];
      if (c < 128) for (const s of states) for (const e of this.edges[s]!) if (e.set[c]) to.push(e.to);
      next = to.length ? this.closure(to) : [];
      this.stepped.set(key, next);
    }
    return next;
  }

  /** Whether the match can end after between `min` and `max` more characters from `states`. */
  finishable(states: number[], min: number, max: number): boolean {
    const n = this.eps.length;
    for (let r = Math.max(0, min); r <= Math.min(max, this.maxLength); r++) for (const s of states) if (this.canFinish[r * n + s]) return true;
    return false;
  }

  private state(): number {
    if (this.eps.length >= MAX_STATES) throw new PatternError(`the pattern needs more than ${MAX_STATES} states`);
    this.eps.push([]);
    this.edges.push([]);
    return this.eps.length - 1;
  }

  /** Thompson construction: adds `ast` from state `from`; returns the state it ends in. */
  private build(ast: Ast, from: number): number {
    switch (ast.k) {
      case 'set': {
        const to = this.state();
        this.edges[from]!.push({ set: ast.set, to });
        return to;
      }
      case 'seq':
        return ast.items.reduce((at, item) => this.build(item, at), from);
      case 'alt': {
        const join = this.state();
        for (const item of ast.items) {
          const s = this.state();
          this.eps[from]!.push(s);
          this.eps[this.build(item, s)]!.push(join);
        }
        return join;
      }
      case 'repeat': {
        let at = from;
        for (let i = 0; i < ast.min; i++) at = this.build(ast.item, at);
        if (ast.max === Infinity) {
          const loop = this.state();
          this.eps[at]!.push(loop);
          this.eps[this.build(ast.item, loop)]!.push(loop);
          return loop;
        }
        for (let i = ast.min; i < ast.max; i++) {
          const next = this.state();
          this.eps[at]!.push(next);
          this.eps[this.build(ast.item, at)]!.push(next);
          at = next;
        }
        return at;
      }
    }
  }

  private closure(states: number[]): number[] {
    const seen = new Set<number>();
    const todo = [...states];
    while (todo.length) {
      const s = todo.pop()!;
      if (seen.has(s)) continue;
      seen.add(s);
      todo.push(...this.eps[s]!);
    }
    return [...seen].sort((a, b) => a - b);
  }
}

/** `format` values with a pattern in the safe subset (conservative: every match passes ajv-formats). */
export const FORMATS: Record<string, string> = {
  // Days per month; 29 February is left out rather than checking leap years.
  date: '^[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))$',
  email: '^[A-Za-z0-9_+-]+(\\.[A-Za-z0-9_+-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,24}$',
  uuid: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
};
