/**
 * A generation in OpenAI's shapes: the chat.completion it ends with and, when streaming, the
 * chat.completion.chunks along the way (role first, content deltas, finish_reason, then usage).
 */
import type { GenerationResult } from '../types.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatFinishReason, CompletionUsage } from './types.ts';

type Delta = ChatCompletionChunk['choices'][number]['delta'];

export class ChatReply {
  private readonly id = `chatcmpl-${crypto.randomUUID()}`;
  private readonly created = Math.floor(Date.now() / 1000);

  /** `send` receives each chunk when streaming; the engine awaits the final ones before resolving. */
  constructor(
    private readonly model: string,
    private readonly send: ((chunk: ChatCompletionChunk) => void | Promise<void>) | null,
    private readonly includeUsage: boolean,
  ) {}

  /** The first chunk: the assistant's role, before any content. */
  start(): void {
    if (this.send) void this.send(this.chunk({ role: 'assistant', content: '' }, null));
  }

  /** A content delta. */
  text(content: string): void {
    if (this.send) void this.send(this.chunk({ content }, null));
  }

  /** Sends the closing chunks (when streaming) and returns the whole completion. */
  async finish(result: GenerationResult): Promise<ChatCompletion> {
    const finish: ChatFinishReason = result.finishReason === 'length' ? 'length' : 'stop';
    const usage: CompletionUsage = { prompt_tokens: result.stats.promptTokens, completion_tokens: result.stats.generatedTokens, total_tokens: result.stats.promptTokens + result.stats.generatedTokens };
    if (this.send) {
      await this.send(this.chunk({}, finish));
      if (this.includeUsage) await this.send({ ...this.chunk({}, null), choices: [], usage });
    }
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, message: { role: 'assistant', content: result.text, refusal: null }, finish_reason: finish, logprobs: null }],
      usage,
    };
  }

  private chunk(delta: Delta, finish: ChatFinishReason | null): ChatCompletionChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(this.includeUsage && { usage: null }),
    };
  }
}
