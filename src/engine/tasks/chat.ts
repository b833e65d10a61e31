/**
 * Chat on top of generation: turns OpenAI-style messages into prompt ids (the model's chat template via
 * transformers.js when it has one, a documented plain-text default otherwise) and request fields into
 * generation options.
 */
import type { Message, PreTrainedTokenizer } from '@huggingface/transformers';
import { InvalidArgumentError } from '../../errors.ts';
import { hasToolCalls, validateToolTurn, type ToolPlan } from '../../openai/tools.ts';
import type { ChatCompletionRequest, ChatMessage, ChatRequestMessage } from '../../openai/types.ts';
import { offeredTools, plainMessages, templateCallsTools, templateMessages } from './tool-prompt.ts';
import type { GenerateOptions } from '../../types.ts';

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

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

export function validateMessages(messages: unknown): ChatRequestMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new InvalidArgumentError('messages must be a non-empty array');
  const callIds = new Set<string>();
  messages.forEach((m: ChatRequestMessage | null, i) => {
    const role = m?.role;
    if (!ROLES.has(role as string)) throw new InvalidArgumentError(`messages[${i}].role must be system, user, assistant or tool; got ${JSON.stringify(role)}`);
    if (m!.role === 'tool' || hasToolCalls(m!)) return validateToolTurn(m!, i, callIds);
    if (typeof m!.content !== 'string') throw new InvalidArgumentError(`messages[${i}].content must be a string`);
  });
  return messages as ChatRequestMessage[];
}

/** The prompt for a conversation, with the tools of `plan` offered (see tool-prompt.ts for how). */
export function chatPromptIds(tokenizer: PreTrainedTokenizer, messages: ChatRequestMessage[], plan: ToolPlan | null = null): number[] {
  const tools = offeredTools(plan);
  if (tokenizer.chat_template) {
    const native = (tools.length > 0 || messages.some((m) => m.role === 'tool' || hasToolCalls(m))) && templateCallsTools(tokenizer);
    const conversation = native ? templateMessages(messages) : plainMessages(messages, tools);
    // Templates write their own special tokens (BOS included), so nothing is added on top.
    const text = tokenizer.apply_chat_template(conversation as Message[], { add_generation_prompt: true, tokenize: false, ...(native && tools.length && { tools }) }) as string;
    return tokenizer.encode(text, { add_special_tokens: false });
  }
  return tokenizer.encode(defaultChatPrompt(plainMessages(messages, tools)));
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
