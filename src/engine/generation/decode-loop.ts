/**
 * The decode loop: prefill, then one token at a time (sampling, stop strings, an optional constraint
 * such as a JSON schema) as an async sequence of text deltas whose return value is the result and its
 * statistics. A WebGPU run that fails moves the model to WASM (the backend policy) and the loop goes on.
 */
import { AbortError, ContextOverflowError } from '../../errors.ts';
import type { ResolvedGenerateOptions } from '../../options.ts';
import type { FinishReason, GenerationResult } from '../../types.ts';
import { runWithFallback } from '../backends/policy.ts';
import type { LoadedDecoder } from '../load/loaded.ts';
import type { Constraint } from '../tasks/extract.ts';
import { Lookahead } from '../tasks/json/lookahead.ts';
import type { Decoder } from './decoder.ts';
import { Sampler } from './sampling.ts';
import { StopStringFilter, TokenTextStream } from './text-stream.ts';

export interface DecodeRequest {
  promptIds: number[];
  options: ResolvedGenerateOptions;
  signal: AbortSignal;
  /** Masks what may not come next and follows what was chosen (constrained decoding). */
  constraint?: Constraint;
}

/** Text that became visible: after a token (`tokenId`), or at the end (null: text held back until then). */
export interface TextDelta {
  tokenId: number | null;
  text: string;
}

export async function* decodeTokens(model: LoadedDecoder, request: DecodeRequest): AsyncGenerator<TextDelta, GenerationResult, void> {
  const { promptIds, options: opts, signal, constraint } = request;
  const { tokenizer, eosIds } = model;
  const started = performance.now();
  const { contextLength } = model.decoder.shape;
  if (promptIds.length >= contextLength) {
    throw new ContextOverflowError(`the prompt is ${promptIds.length} tokens; this model's context is ${contextLength} tokens (leave room for at least one new token)`, {
      details: { promptTokens: promptIds.length, contextLength },
    });
  }
  const budget = Math.min(opts.maxNewTokens, contextLength - promptIds.length);
  const sampler = new Sampler(opts);
  const stream = new TokenTextStream((ids) => tokenizer.decode(ids, { skip_special_tokens: true }), promptIds);
  const stops = new StopStringFilter(opts.stop);
  const generated: number[] = [];
  let text = '';
  let finishReason: FinishReason = 'length';

  // Drafted tokens (constraint.draft) are checked in one run; rewinding them needs the KV cache on the CPU.
  const lookahead =
    constraint?.draft && model.decoder.backend.name === 'wasm'
      ? new Lookahead(
          { run: (ids, history, rows) => step(model, ids, history, rows), truncate: (n) => model.decoder.truncate(n), vocabSize: model.decoder.shape.vocabSize, contextLength },
          constraint.draft,
        )
      : null;
  let generatedAtAbort = -1;
  const onAbort = (): void => void (generatedAtAbort = generated.length);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const fed = [...promptIds];
    const prefill = budget > 0 ? await prefillPrompt(model, promptIds) : null;
    let logits = prefill?.logits ?? null;
    const reused = prefill?.reused ?? 0;
    const prefillDone = performance.now();
    let firstTokenAt = prefillDone;
    while (logits && generated.length < budget) {
      if (signal.aborted) {
        finishReason = 'aborted';
        break;
      }
      if (generated.length < opts.minNewTokens) for (const id of eosIds) logits[id] = -Infinity;
      constraint?.mask(logits);
      const next = sampler.next(logits, opts.repetitionPenalty !== 1 ? [...promptIds, ...generated] : []);
      if (generated.length === 0) firstTokenAt = performance.now();
      if (eosIds.has(next)) {
        finishReason = 'eos';
        break;
      }
      generated.push(next);
      constraint?.accept(next);
      const { text: visible, stopped } = stops.push(stream.push(next));
      text += visible;
      yield { tokenId: next, text: visible };
      if ((stopped && constraint?.stoppable !== false) || constraint?.complete) {
        finishReason = 'stop';
        break;
      }
      if (generated.length >= budget) break;
      fed.push(next);
      // Let queued messages (an abort from the page) run between tokens; ORT's WASM runs resolve as microtasks.
      await yieldToEventLoop();
      logits = lookahead ? await lookahead.after(fed) : await step(model, [next], fed);
    }
    if (finishReason !== 'stop') {
      const rest = stops.push(stream.flush()).text + stops.flush();
      text += rest;
      if (rest) yield { tokenId: null, text: rest };
    }
    const ended = performance.now();
    if (finishReason === 'aborted') {
      throw new AbortError('generation was aborted', {
        cause: signal.reason,
        details: { text, generatedTokens: generated.length, tokensAfterAbort: generated.length - generatedAtAbort },
      });
    }
    const decodeTokens = Math.max(0, generated.length - 1);
    return {
      text,
      tokenIds: generated,
      finishReason,
      stats: {
        promptTokens: promptIds.length,
        reusedPromptTokens: reused,
        generatedTokens: generated.length,
        timeToFirstTokenMs: firstTokenAt - started,
        prefillMs: prefillDone - started,
        decodeMs: ended - firstTokenAt,
        prefillTokensPerSecond: ((promptIds.length - reused) * 1000) / Math.max(1e-3, prefillDone - started),
        decodeTokensPerSecond: decodeTokens > 0 ? (decodeTokens * 1000) / Math.max(1e-3, ended - firstTokenAt) : 0,
        backend: model.decoder.backend.name,
        ...(lookahead && { draftedTokens: lookahead.drafted, acceptedDraftTokens: lookahead.accepted }),
      },
    };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Runs the loop to its end, handing each non-empty text delta to `onText`. */
export async function decode(model: LoadedDecoder, request: DecodeRequest, onText?: (text: string) => void): Promise<GenerationResult> {
  const tokens = decodeTokens(model, request);
  for (;;) {
    const next = await tokens.next();
    if (next.done) return next.value;
    if (next.value.text) onText?.(next.value.text);
  }
}

/** The prompt through the decoder, reusing a cached prefix. */
function prefillPrompt(model: LoadedDecoder, promptIds: number[]): Promise<{ logits: Float32Array; reused: number }> {
  return withFallback(model, (decoder) => decoder.prefill(promptIds));
}

/**
 * One decoder step over `ids` (the tail of `history`, every id fed so far): the logits of the last `rows`
 * ids. After a move to another backend, the new decoder is brought up to date by feeding the whole history.
 */
function step(model: LoadedDecoder, ids: number[], history: number[], rows = 1): Promise<Float32Array> {
  if (model.decoder.position !== history.length - ids.length) {
    // The decoder was replaced (device lost) since the last step: rebuild its cache.
    model.decoder.reset();
    ids = history;
  }
  return withFallback(model, (decoder) => decoder.step(ids, rows), (decoder) => decoder.step(history, rows));
}

/** Runs on the model's decoder; if that fails, the model moves to the next backend (the backend policy) and `retry` runs there. */
function withFallback<T>(model: LoadedDecoder, run: (decoder: Decoder) => Promise<T>, retry = run): Promise<T> {
  return runWithFallback(() => model.decoder, (message) => model.fallBack(message), run, retry);
}

const channel = typeof MessageChannel !== 'undefined' ? new MessageChannel() : null;
const pending: Array<() => void> = [];
if (channel) {
  channel.port1.onmessage = () => pending.shift()?.();
  // In Node (tests) an open port would keep the process alive on its own.
  for (const port of [channel.port1, channel.port2] as unknown as Array<{ unref?(): void }>) port.unref?.();
}

/** Resolves after the event loop has had a turn (a macrotask), at a fraction of setTimeout(0)'s cost. */
function yieldToEventLoop(): Promise<void> {
  if (!channel) return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    pending.push(resolve);
    channel.port2.postMessage(null);
  });
}
