/**
 * A generation in OpenAI's shapes: the chat.completion it ends with and, when streaming, the
 * chat.completion.chunks along the way (role first, content or tool-call deltas, finish_reason, then usage).
 */
import type { GenerationResult } from '../types.ts';
import { replyMessage, toolCallId, ToolReplyStream, type CallProgress } from './tools.ts';
import type { ChatCompletion, ChatCompletionChunk, ChatFinishReason, CompletionUsage } from './types.ts';

type Delta = ChatCompletionChunk['choices'][number]['delta'];

export class ChatReply {
  private readonly id = `chatcmpl-${crypto.randomUUID()}`;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly callId = toolCallId();
  private readonly calls: ToolReplyStream | null;

  /**
   * `send` receives each chunk when streaming; the engine awaits the final ones before resolving.
   * `tools` is the tool-call constraint when the reply may be a call (it says whether it became one).
   */
  constructor(
    private readonly model: string,
    private readonly send: ((chunk: ChatCompletionChunk) => void | Promise<void>) | null,
    private readonly includeUsage: boolean,
    private readonly tools: CallProgress | null = null,
  ) {
    this.calls = tools ? new ToolReplyStream(tools, this.callId) : null;
  }

  /** The first chunk: the assistant's role, before any content. */
  start(): void {
    if (this.send) void this.send(this.chunk({ role: 'assistant', content: '' }, null));
  }

  /** Text the model produced: a content delta, or tool-call deltas once the reply is a call. */
  text(content: string): void {
    if (!this.send) return;
    for (const delta of this.calls ? this.calls.push(content) : [{ content }]) void this.send(this.chunk(delta, null));
  }

  /** Sends the closing chunks (when streaming) and returns the whole completion. */
  async finish(result: GenerationResult): Promise<ChatCompletion> {
    const { message, finish_reason } = replyMessage(result.text, result.finishReason === 'length' ? 'length' : 'stop', this.tools, this.callId);
    const usage: CompletionUsage = { prompt_tokens: result.stats.promptTokens, completion_tokens: result.stats.generatedTokens, total_tokens: result.stats.promptTokens + result.stats.generatedTokens };
    if (this.send) {
      for (const delta of this.calls?.finish() ?? []) await this.send(this.chunk(delta, null));
      await this.send(this.chunk({}, finish_reason));
      if (this.includeUsage) await this.send({ ...this.chunk({}, null), choices: [], usage });
    }
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, message, finish_reason, logprobs: null }],
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
