/**
 * Chat prompts: OpenAI-style messages into prompt ids, through the model's chat template
 * (transformers.js) when it has one and a documented plain-text default otherwise. Request checks and
 * the response shapes live in src/openai/.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { ChatMessage } from '../../openai/types.ts';

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

export function chatPromptIds(tokenizer: PreTrainedTokenizer, messages: ChatMessage[]): number[] {
  if (tokenizer.chat_template) {
    // Templates write their own special tokens (BOS included), so nothing is added on top.
    const text = tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false }) as string;
    return tokenizer.encode(text, { add_special_tokens: false });
  }
  return tokenizer.encode(defaultChatPrompt(messages));
}
