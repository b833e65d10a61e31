/**
 * Chat templates for GGUF files that carry none (`tokenizer.chat_template` absent), by architecture.
 * Gemma 3 GGUFs are often published without one; this is the template of Google's instruction-tuned
 * Gemma 3 releases (tokenizer_config.json): the system message is folded into the first user turn,
 * assistant turns are "model" turns, and every turn ends with <end_of_turn> and a newline.
 */
const GEMMA =
  "{{ bos_token }}\n" +
  "{%- if messages[0]['role'] == 'system' -%}\n" +
  "    {%- if messages[0]['content'] is string -%}\n" +
  "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n" +
  '    {%- else -%}\n' +
  "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n" +
  '    {%- endif -%}\n' +
  '    {%- set loop_messages = messages[1:] -%}\n' +
  '{%- else -%}\n' +
  '    {%- set first_user_prefix = "" -%}\n' +
  '    {%- set loop_messages = messages -%}\n' +
  '{%- endif -%}\n' +
  '{%- for message in loop_messages -%}\n' +
  "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n" +
  '        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}\n' +
  '    {%- endif -%}\n' +
  "    {%- if (message['role'] == 'assistant') -%}\n" +
  '        {%- set role = "model" -%}\n' +
  '    {%- else -%}\n' +
  "        {%- set role = message['role'] -%}\n" +
  '    {%- endif -%}\n' +
  "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n" +
  "    {%- if message['content'] is string -%}\n" +
  "        {{ message['content'] | trim }}\n" +
  "    {%- elif message['content'] is iterable -%}\n" +
  "        {%- for item in message['content'] -%}\n" +
  "            {%- if item['type'] == 'image' -%}\n" +
  "                {{ '<start_of_image>' }}\n" +
  "            {%- elif item['type'] == 'text' -%}\n" +
  "                {{ item['text'] | trim }}\n" +
  '            {%- endif -%}\n' +
  '        {%- endfor -%}\n' +
  '    {%- else -%}\n' +
  '        {{ raise_exception("Invalid content type") }}\n' +
  '    {%- endif -%}\n' +
  "    {{ '<end_of_turn>\\n' }}\n" +
  '{%- endfor -%}\n' +
  '{%- if add_generation_prompt -%}\n' +
  "    {{'<start_of_turn>model\\n'}}\n" +
  '{%- endif -%}\n';

const BY_ARCHITECTURE: Record<string, string> = { gemma: GEMMA, gemma2: GEMMA, gemma3: GEMMA };

export function chatTemplateFor(architecture: string | undefined): string | undefined {
  return architecture === undefined ? undefined : BY_ARCHITECTURE[architecture];
}
