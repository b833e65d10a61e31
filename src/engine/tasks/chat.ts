/**
 * Chat prompts: OpenAI-style messages into prompt ids, through the model's chat template
 * (transformers.js) when it has one and a documented plain-text default otherwise; offered tools as
 * tool-prompt.ts writes them. Request checks and the response shapes live in src/openai/.
 */
import type { Message, PreTrainedTokenizer } from '@huggingface/transformers';
import { hasToolCalls, type ToolPlan } from '../../openai/tools.ts';
import type { ChatMessage, ChatRequestMessage } from '../../openai/types.ts';
import { offeredTools, plainMessages, templateCallsTools, templateMessages } from './tool-prompt.ts';

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
