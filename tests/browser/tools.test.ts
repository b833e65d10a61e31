/**
 * Tool calling through the public API in real Chromium (WASM, stories260K, in a worker): OpenAI's
 * shapes field by field (the types are checked against the `openai` package in
 * tests/openai/types.check.ts), streaming, arguments that validate over 100 random tool sets with
 * sampled generation, `tool_choice: 'none'`, tool results sent back, and typed errors for bad tools.
 */
import Ajv from 'ajv';
import type OpenAI from 'openai';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chatPromptIds, defaultChatPrompt } from '../../src/engine/tasks/chat.ts';
import { planTools } from '../../src/openai/tools.ts';
import { plainMessages } from '../../src/engine/tasks/tool-prompt.ts';
import type { ChatRequestMessage, ChatTool } from '../../src/openai/types.ts';
import { mulberry32, randomTools } from '../support/schemas.ts';
import { STORIES_DIR } from '../support/sources.ts';
import { openHarness, useBrowser } from './support/browser.ts';
import { serveVariant } from './support/fixtures.ts';

const ajv = new Ajv({ strict: false });
const weather: ChatTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, days: { type: 'integer' } }, required: ['city'], additionalProperties: false } },
};
const play: ChatTool = { type: 'function', function: { name: 'play', parameters: { type: 'object', properties: { toy: { enum: ['ball', 'doll'] } }, required: ['toy'] } } };
const messages = [{ role: 'user', content: 'Is it sunny in Oslo?' }];
const tokenizer = new PreTrainedTokenizer(JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer_config.json'), 'utf8')));
/** Room for a call of the random tool sets below (the longest measured: 93 tokens). */
const MAX_TOKENS = 128;

describe('tool calling in chat.completions.create (Chromium, WASM)', () => {
  const browser = useBrowser({ webgpu: false });
  let page: Page;

  const run = async <T>(body: string): Promise<T> => {
    const r = (await page.evaluate(`(async () => {
      try { return { ok: await (async () => { ${body} })() }; }
      catch (e) { return { failure: { name: e.name, code: e.code, message: e.message } }; }
    })()`)) as { ok?: T; failure?: { name: string; code: string; message: string } };
    expect(r.failure, r.failure && `${r.failure.name}: ${r.failure.message}`).toBeUndefined();
    return r.ok as T;
  };
  const failure = async (request: string): Promise<{ name: string; code: string; message: string }> => {
    const r = (await page.evaluate(`model.chat.completions.create(${request}).then(() => null, (e) => ({ name: e.name, code: e.code, message: e.message }))`)) as { name: string; code: string; message: string } | null;
    expect(r, 'expected the call to fail').not.toBeNull();
    return r!;
  };

  beforeAll(async () => {
    page = await openHarness(browser());
    await run(`window.client = await slm.SlmClient.inWorker(); window.model = await client.load('stories260k', { dtype: 'fp32' }); return null`);
  });

  it("a forced call is a chat.completion with message.tool_calls and finish_reason 'tool_calls', field by field", async () => {
    const c = await run<OpenAI.Chat.ChatCompletion>(`return model.chat.completions.create({ messages: ${JSON.stringify(messages)}, tools: ${JSON.stringify([weather, play])}, tool_choice: { type: 'function', function: { name: 'get_weather' } }, temperature: 0.8, seed: 7, max_tokens: 200 })`);
    expect(Object.keys(c).sort()).toEqual(['choices', 'created', 'id', 'model', 'object', 'usage']);
    expect(c).toMatchObject({ object: 'chat.completion', model: 'stories260k' });
    expect(c.choices).toHaveLength(1);
    const choice = c.choices[0]!;
    expect(Object.keys(choice).sort()).toEqual(['finish_reason', 'index', 'logprobs', 'message']);
    expect(choice).toMatchObject({ index: 0, finish_reason: 'tool_calls', logprobs: null });
    expect(Object.keys(choice.message).sort()).toEqual(['content', 'refusal', 'role', 'tool_calls']);
    expect(choice.message).toMatchObject({ role: 'assistant', content: null, refusal: null });
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(Object.keys(call).sort()).toEqual(['function', 'id', 'type']);
    expect(call.id).toMatch(/^call_[0-9a-f]{32}$/);
    expect(call.type).toBe('function');
    expect(Object.keys(call.function).sort()).toEqual(['arguments', 'name']);
    expect(call.function.name).toBe('get_weather');
    expect(typeof call.function.arguments).toBe('string');
    expect(ajv.validate(weather.function.parameters!, JSON.parse(call.function.arguments)), call.function.arguments).toBe(true);
    expect(c.usage!.completion_tokens).toBeGreaterThan(10);
    expect(c.usage!.total_tokens).toBe(c.usage!.prompt_tokens + c.usage!.completion_tokens);
  });

  it('streams a call: role first, then delta.tool_calls with index, id, type and name, then argument fragments, then the finish reason', async () => {
    const request = `{ messages: ${JSON.stringify(messages)}, tools: ${JSON.stringify([weather, play])}, tool_choice: 'required', temperature: 0.8, seed: 11, max_tokens: 200 }`;
    const { chunks, whole } = await run<{ chunks: OpenAI.Chat.ChatCompletionChunk[]; whole: OpenAI.Chat.ChatCompletion }>(`
      const chunks = [];
      for await (const chunk of await model.chat.completions.create({ ...${request}, stream: true, stream_options: { include_usage: true } })) chunks.push(chunk);
      return { chunks, whole: await model.chat.completions.create(${request}) };
    `);
    for (const c of chunks) expect(c).toMatchObject({ id: chunks[0]!.id, object: 'chat.completion.chunk', created: chunks[0]!.created, model: 'stories260k' });
    expect(chunks[0]!.choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]);
    const pieces = chunks.slice(1, -2).map((c) => {
      expect(c.choices).toHaveLength(1);
      expect(c.choices[0]).toMatchObject({ index: 0, finish_reason: null, logprobs: null });
      expect(Object.keys(c.choices[0]!.delta)).toEqual(['tool_calls']);
      expect(c.choices[0]!.delta.tool_calls).toHaveLength(1);
      return c.choices[0]!.delta.tool_calls![0]!;
    });
    const expected = (whole.choices[0]!.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall).function;
    expect(pieces[0]).toEqual({ index: 0, id: expect.stringMatching(/^call_[0-9a-f]{32}$/), type: 'function', function: { name: expected.name, arguments: expect.any(String) } });
    for (const p of pieces.slice(1)) expect(Object.keys(p).sort()).toEqual(['function', 'index']);
    expect(pieces.length).toBeGreaterThan(3);
    // Same seed, same call: the fragments join to the arguments of the non-streamed reply.
    expect(pieces.map((p) => p.function!.arguments).join('')).toBe(expected.arguments);
    expect(chunks.at(-2)!.choices).toEqual([{ index: 0, delta: {}, finish_reason: 'tool_calls', logprobs: null }]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: whole.usage });
  });

  it('over 100 random tool sets with sampled generation, every call names an allowed tool and its arguments validate', async () => {
    const choices = ['required', 'named', 'auto'] as const;
    const user: ChatRequestMessage[] = [{ role: 'user', content: 'Lily wants to play.' }];
    // stories260K reads 512 tokens and its 512-token vocabulary spends about one per character of JSON:
    // sets whose prompt leaves fewer than MAX_TOKENS for the call are passed over (seeds stay fixed).
    const sets: Array<{ tools: ChatTool[]; tool_choice: (typeof choices)[number] | { type: 'function'; function: { name: string } }; seed: number }> = [];
    for (let seed = 1000; sets.length < 100; seed++) {
      const tools = randomTools(mulberry32(seed), { maxTools: 2, maxProps: 2, depth: 2 }) as ChatTool[];
      if (chatPromptIds(tokenizer, user, planTools(tools, 'auto')).length > 512 - MAX_TOKENS) continue;
      const kind = choices[sets.length % 3]!;
      const tool_choice = kind === 'named' ? { type: 'function' as const, function: { name: tools.at(-1)!.function.name } } : kind;
      sets.push({ tools, tool_choice, seed });
    }
    const replies = await run<Array<OpenAI.Chat.ChatCompletion | { error: string }>>(`
      const out = [];
      for (const s of ${JSON.stringify(sets)}) {
        try { out.push(await model.chat.completions.create({ messages: ${JSON.stringify(user)}, ...s, temperature: 1, max_tokens: ${MAX_TOKENS} })); }
        catch (e) { out.push({ error: e.name + ': ' + e.message }); }
      }
      return out;
    `);
    let calls = 0;
    replies.forEach((reply, i) => {
      const { tools, tool_choice } = sets[i]!;
      expect('error' in reply ? reply.error : null, `set ${i}`).toBeNull();
      const choice = (reply as OpenAI.Chat.ChatCompletion).choices[0]!;
      if (tool_choice === 'auto' && !choice.message.tool_calls) {
        expect(choice.finish_reason).not.toBe('tool_calls');
        expect(typeof choice.message.content).toBe('string');
        return;
      }
      calls++;
      expect(choice.finish_reason, `set ${i}`).toBe('tool_calls');
      const call = (choice.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall).function;
      if (typeof tool_choice === 'object') expect(call.name).toBe(tool_choice.function.name);
      const tool = tools.find((t) => t.function.name === call.name);
      expect(tool, `set ${i}: ${call.name}`).toBeDefined();
      expect(ajv.validate(tool!.function.parameters!, JSON.parse(call.arguments)), `set ${i}: ${call.arguments} against ${JSON.stringify(tool!.function.parameters)}: ${ajv.errorsText()}`).toBe(true);
    });
    expect(calls).toBeGreaterThanOrEqual(67); // every required and named set
  });

  it("tool_choice 'none' never emits a call: over 20 random tool sets the reply is the same text as without tools", async () => {
    const sets = Array.from({ length: 20 }, (_, i) => ({ tools: randomTools(mulberry32(2000 + i)), seed: i }));
    const pairs = await run<Array<[OpenAI.Chat.ChatCompletion, OpenAI.Chat.ChatCompletion]>>(`
      const out = [];
      for (const { tools, seed } of ${JSON.stringify(sets)}) {
        const request = { messages: [{ role: 'user', content: 'Lily wants to play.' }], temperature: 1, seed, max_tokens: 40 };
        out.push([await model.chat.completions.create({ ...request, tools, tool_choice: 'none' }), await model.chat.completions.create(request)]);
      }
      return out;
    `);
    for (const [none, plain] of pairs) {
      expect(none.choices[0]!.message).not.toHaveProperty('tool_calls');
      expect(none.choices[0]!.finish_reason).not.toBe('tool_calls');
      expect(none.choices[0]!.message.content).toBe(plain.choices[0]!.message.content);
      expect(none.usage).toEqual(plain.usage);
    }
  });

  it("role 'tool' results are accepted back: the reply continues the documented prompt holding the call and its result", async () => {
    const conversation: ChatRequestMessage[] = [
      ...(messages as ChatRequestMessage[]),
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'Sunny and warm' },
    ];
    const prompt = defaultChatPrompt(plainMessages(conversation, [weather]));
    expect(prompt).toContain('<tool_response>\nSunny and warm\n</tool_response>');
    const r = await run<{ reply: OpenAI.Chat.ChatCompletion; plain: { text: string } }>(`
      const reply = await model.chat.completions.create({ messages: ${JSON.stringify(conversation)}, tools: ${JSON.stringify([weather])}, tool_choice: 'auto', max_tokens: 24 });
      return { reply, plain: await model.generate(${JSON.stringify(prompt)}, { maxNewTokens: 24 }) };
    `);
    expect(r.reply.choices[0]!.message.content).toBe(r.plain.text);
    expect(r.reply.choices[0]!.finish_reason).toBe('length');
  });

  it("a model whose chat template asks for <tool_call> (Hermes style) is prompted through it, tools and tool turns included", async () => {
    // The Qwen-style template with its long instructions cut, to fit stories260K's 512-token context.
    const template = readFileSync(join(import.meta.dirname, '../fixtures/hermes-tools.jinja'), 'utf8')
      .replace('You may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n', '')
      .replace('For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n', '');
    expect(template.length).toBeLessThan(readFileSync(join(import.meta.dirname, '../fixtures/hermes-tools.jinja'), 'utf8').length - 200);
    const config = { ...JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer_config.json'), 'utf8')), chat_template: template };
    await serveVariant(page, 'hermes', (file) => (file === 'tokenizer_config.json' ? { status: 200, body: JSON.stringify(config), contentType: 'application/json' } : file === 'manifest.json' ? { status: 404, body: '' } : null));
    const hermes = new PreTrainedTokenizer(JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer.json'), 'utf8')), config);
    const nap: ChatTool = { type: 'function', function: { name: 'nap' } };
    const conversation: ChatRequestMessage[] = [
      { role: 'user', content: 'Nap?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'nap', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
    ];
    const expected = chatPromptIds(hermes, conversation, planTools([nap], 'required'));
    const text = hermes.decode(expected);
    expect(text).toContain('<tools>\n{"type": "function", "function": {"name": "nap"}}\n</tools>');
    expect(text).toContain('<|im_start|>assistant\n<tool_call>\n{"name": "nap", "arguments": {}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\nok\n</tool_response><|im_end|>');
    const c = await run<OpenAI.Chat.ChatCompletion>(`
      const hermes = await client.load('/models/hermes/', { dtype: 'fp32' });
      try { return await hermes.chat.completions.create({ messages: ${JSON.stringify(conversation)}, tools: ${JSON.stringify([nap])}, tool_choice: 'required', temperature: 0.8, seed: 2 }); }
      finally { await hermes.unload(); }
    `);
    expect(c.usage!.prompt_tokens).toBe(expected.length);
    expect(c.choices[0]!.finish_reason).toBe('tool_calls');
    const call = (c.choices[0]!.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall).function;
    expect(call.name).toBe('nap');
    expect(JSON.parse(call.arguments)).toEqual({});
  });

  it.each([
    ['duplicate tool names', `{ messages: [{ role: 'user', content: 'x' }], tools: [${JSON.stringify(weather)}, ${JSON.stringify(weather)}] }`, /"get_weather" is used by more than one tool/],
    ['tool_choice naming an unknown tool', `{ messages: [{ role: 'user', content: 'x' }], tools: [${JSON.stringify(weather)}], tool_choice: { type: 'function', function: { name: 'fly' } } }`, /names "fly", which is not one of the tools/],
    ['a bad parameters schema', `{ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'x', parameters: { type: 'object', properties: { a: { type: 'integer', multipleOf: 2 } } } } }] }`, /tools\[0\] \(x\): parameters use unsupported JSON Schema keywords: #\/properties\/a\/multipleOf/],
    ['a tool result answering no call', `{ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'call_9', content: 'y' }] }`, /tool_call_id "call_9" does not answer any earlier tool call/],
  ])('%s is an InvalidArgumentError and the worker keeps serving', async (_label, request, message) => {
    const f = await failure(request);
    expect(f).toMatchObject({ name: 'InvalidArgumentError', code: 'invalid-argument' });
    expect(f.message).toMatch(message);
    const c = await run<OpenAI.Chat.ChatCompletion>(`return model.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 })`);
    expect(c.usage!.completion_tokens).toBe(4);
  });
});
