/**
 * Chat on top of generation: turns OpenAI-style messages into prompt ids (the model's chat template via
 * transformers.js when it has one, a documented plain-text default otherwise) and request fields into
 * generation options.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { InvalidArgumentError } from '../../errors.ts';
import type { ChatCompletionRequest, ChatMessage } from '../../openai/types.ts';
import type { GenerateOptions } from '../../types.ts';

const ROLES = new Set(['system', 'user', 'assistant']);

/**
 * The default for models without a chat template (such as the bundled story model):
 *
 *     {system}\n\n            (only if there is a system message)
 *     User: {content}\n       (each user turn)
 *     Assistant: {content}\n  (each assistant turn)
 *     Assistant:              (where the reply starts)
 */
export function defaultChatPrompt(messages: ChatMessage[]): string {
  let text = '';
  for (const m of messages) {
    if (m.role === 'system') text += `${m.content}\n\n`;
    else text += `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}\n`;
  }
  return `${text}Assistant:`;
}

export function validateMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new InvalidArgumentError('messages must be a non-empty array');
  messages.forEach((m, i) => {
    const role = (m as ChatMessage | null)?.role;
    if (!ROLES.has(role as string)) throw new InvalidArgumentError(`messages[${i}].role must be system, user or assistant; got ${JSON.stringify(role)}`);
    if (typeof (m as ChatMessage).content !== 'string') throw new InvalidArgumentError(`messages[${i}].content must be a string`);
  });
  return messages as ChatMessage[];
}

export function chatPromptIds(tokenizer: PreTrainedTokenizer, messages: ChatMessage[]): number[] {
  if (tokenizer.chat_template) {
    // Templates write their own special tokens (BOS included), so nothing is added on top.
    const text = tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false }) as string;
    return tokenizer.encode(text, { add_special_tokens: false });
  }
  return tokenizer.encode(defaultChatPrompt(messages));
}

/** The generation options an OpenAI request asks for; fields this runtime cannot honour are typed errors. */
export function chatGenerateOptions(request: ChatCompletionRequest): Omit<GenerateOptions, 'signal'> {
  if ((request.n ?? 1) !== 1) throw new InvalidArgumentError(`n must be 1; got ${request.n}`);
  const format = request.response_format?.type ?? 'text';
  if (format !== 'text' && format !== 'json_schema') {
    throw new InvalidArgumentError(`response_format "${format}" is not supported; use "text" or "json_schema" (with a schema)`, {
      details: { response_format: format },
    });
  }
  const stop = request.stop ?? [];
  const maxNewTokens = request.max_completion_tokens ?? request.max_tokens;
  return {
    ...(maxNewTokens != null && { maxNewTokens }),
    ...(request.temperature != null && { temperature: request.temperature }),
    ...(request.top_p != null && { topP: request.top_p }),
    ...(request.seed != null && { seed: request.seed }),
    stop: typeof stop === 'string' ? [stop] : stop,
  };
}
