/**
 * Tool calls as generated text, Hermes style (the format of Qwen's and Hermes' chat templates, and our
 * default):
 *
 *     <tool_call>
 *     {"name": "get_weather", "arguments": {"city": "Paris"}}
 *     </tool_call>
 *
 * `ToolCallMatcher` accepts exactly that text byte by byte, for any callable tool, with the arguments
 * checked by the JSON-schema matcher of the tool it names; the constraints below mask the logits with
 * it, so a call always parses and its arguments always validate.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { CallableTool, CallProgress, ToolPlan } from '../../openai/tools.ts';
import { matcherConstraint, tokenTrie, type Constraint } from './extract.ts';
import { JsonMatcher } from './json/matcher.ts';
import type { ByteMatcher, TokenTrie } from './json/token-mask.ts';

/** The start of a call: once it is all there the output is a call, until then it may still be text. */
export const CALL_START = '<tool_call>';
const CALL_END = '}\n</tool_call>';
const enc = new TextEncoder();
const SPACE = 0x20;
const START_LENGTH = CALL_START.length;
const END = enc.encode(CALL_END);

/** Everything before the arguments object, for one tool. */
function callHead(name: string): string {
  return `${CALL_START}\n{"name": "${name}", "arguments": `;
}

/** The text of a call, as the model writes it (also how earlier calls are shown to it). */
export function callText(name: string, args: string): string {
  return `${callHead(name)}${args}${CALL_END}`;
}

type Phase = { at: 'head'; candidates: number[]; pos: number; spaced: boolean } | { at: 'args'; json: JsonMatcher } | { at: 'end'; pos: number };

/** Accepts one call of one of `tools` (one leading space allowed); tracks where the arguments are in the bytes fed. */
export class ToolCallMatcher implements ByteMatcher {
  private constructor(
    private readonly tools: CallableTool[],
    private readonly heads: Uint8Array[],
    private phase: Phase,
    /** Bytes fed so far. */
    private fed: number,
    /** The tool named (index into tools), once its head is complete. */
    private chosen: number,
    /** Offsets of the arguments object in the bytes fed. */
    private argsStart: number,
    private argsEnd: number,
  ) {}

  static start(tools: CallableTool[]): ToolCallMatcher {
    const heads = tools.map((t) => enc.encode(callHead(t.name)));
    return new ToolCallMatcher(tools, heads, { at: 'head', candidates: tools.map((_, i) => i), pos: 0, spaced: false }, 0, -1, -1, -1);
  }

  clone(): ToolCallMatcher {
    const p = this.phase;
    const phase: Phase = p.at === 'head' ? { ...p } : p.at === 'args' ? { at: 'args', json: p.json.clone() } : { ...p };
    return new ToolCallMatcher(this.tools, this.heads, phase, this.fed, this.chosen, this.argsStart, this.argsEnd);
  }

  /** True while the bytes fed are still part of `<tool_call>` (or the space before it): the output may yet be text. */
  get undecided(): boolean {
    return this.phase.at === 'head' && this.phase.pos < START_LENGTH;
  }

  get complete(): boolean {
    return this.phase.at === 'end' && this.phase.pos === END.length;
  }

  /** The tool named, once its name is complete. */
  get name(): string | null {
    return this.chosen < 0 ? null : this.tools[this.chosen]!.name;
  }

  /** Where the arguments object lies in the bytes fed: [start, end), end = bytes fed while it is unfinished. */
  get argumentsRange(): [number, number] {
    return this.argsStart < 0 ? [0, 0] : [this.argsStart, this.argsEnd < 0 ? this.fed : this.argsEnd];
  }

  plainStringRoom(): number | null {
    return this.phase.at === 'args' ? this.phase.json.plainStringRoom() : null;
  }

  feed(b: number): boolean {
    const p = this.phase;
    switch (p.at) {
      case 'head': {
        if (b === SPACE && p.pos === 0 && !p.spaced) {
          p.spaced = true;
          break;
        }
        const candidates = p.candidates.filter((i) => this.heads[i]![p.pos] === b);
        if (!candidates.length) return false;
        p.candidates = candidates;
        p.pos++;
        // Names hold no quote and the head ends with one, so no head is a prefix of another.
        const done = candidates.find((i) => this.heads[i]!.length === p.pos);
        if (done !== undefined) {
          this.chosen = done;
          this.argsStart = this.fed + 1;
          this.phase = { at: 'args', json: JsonMatcher.start(this.tools[done]!.parameters) };
        }
        break;
      }
      case 'args':
        // The head ends with the one space before the arguments: they start with their brace.
        if ((this.fed === this.argsStart && b === SPACE) || !p.json.feed(b)) return false;
        // The arguments are an object: complete means its closing brace, after which nothing of it can follow.
        if (p.json.complete) {
          this.argsEnd = this.fed + 1;
          this.phase = { at: 'end', pos: 0 };
        }
        break;
      case 'end':
        if (END[p.pos] !== b) return false;
        p.pos++;
        break;
    }
    this.fed++;
    return true;
  }
}

/** A constraint that also says whether the output became a call, and which. */
export type ToolConstraint = Constraint & CallProgress;

/**
 * `required`: the output is one call of a callable tool. `auto`: the model may write text or a call;
 * while its output is still a prefix of `<tool_call>`, only tokens that either stay a valid call or
 * leave that prefix (becoming text) are allowed, so it can never start a call it cannot finish.
 */
export function toolCallConstraint(tokenizer: PreTrainedTokenizer, plan: ToolPlan, vocabSize: number): ToolConstraint {
  const trie = tokenTrie(tokenizer);
  const matcher = ToolCallMatcher.start(plan.callable);
  const inner = matcherConstraint(trie, matcher, vocabSize);
  const bytes: number[] = [];
  let mode: 'undecided' | 'text' | 'call' = plan.mode === 'required' ? 'call' : 'undecided';
  return {
    get mode() {
      return mode;
    },
    mask(logits) {
      if (mode === 'call') return inner.mask(logits);
      if (mode === 'undecided') maskUndecided(trie, matcher, logits);
    },
    accept(token) {
      if (mode === 'text') return;
      for (const b of trie.bytesOf[token] ?? []) {
        if (mode === 'undecided' && !matcher.clone().feed(b)) {
          mode = 'text';
          return;
        }
        matcher.feed(b);
        bytes.push(b);
      }
      if (mode === 'undecided' && !matcher.undecided) mode = 'call';
    },
    get complete() {
      return mode === 'call' && matcher.complete;
    },
    get stoppable() {
      return mode !== 'call';
    },
    call() {
      if (mode !== 'call') return null;
      const [start, end] = matcher.argumentsRange;
      return { name: matcher.name, arguments: utf8Prefix(bytes.slice(start, end)), complete: matcher.complete };
    },
  };
}

/** Allows tokens that keep a valid call going, tokens that turn the output into text, and tokens without bytes (end of text). */
function maskUndecided(trie: TokenTrie, matcher: ToolCallMatcher, logits: Float32Array): void {
  for (let id = 0; id < logits.length; id++) {
    const tokenBytes = trie.bytesOf[id];
    if (!tokenBytes) continue;
    const m = matcher.clone();
    for (const b of tokenBytes) {
      const before = m.undecided;
      if (m.feed(b)) continue;
      if (!before) logits[id] = -Infinity; // past `<tool_call>`: a call that went wrong
      break;
    }
  }
}

/** The text of the complete UTF-8 characters at the start of `bytes` (a character may be half generated). */
function utf8Prefix(bytes: number[]): string {
  let end = bytes.length;
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back]!;
    if (b < 0x80) break;
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (need > back) end = bytes.length - back;
      break;
    }
  }
  return new TextDecoder().decode(Uint8Array.from(bytes.slice(0, end)));
}
