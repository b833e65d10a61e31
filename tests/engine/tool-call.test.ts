/**
 * Tool calling without a model in the loop: validation of tools and tool turns, the call text the
 * matcher accepts, the prompt formats (default and a Hermes-style chat template), and random but
 * always-allowed tokens of the real stories260K vocabulary under the call constraints.
 */
import { PreTrainedTokenizer } from '@huggingface/transformers';
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.ts';
import { chatPromptIds } from '../../src/engine/tasks/chat.ts';
import { validateMessages } from '../../src/openai/request.ts';
import { tokenTrie } from '../../src/engine/tasks/extract.ts';
import { callText, toolCallConstraint, ToolCallMatcher } from '../../src/engine/tasks/tool-call.ts';
import { templateCallsTools } from '../../src/engine/tasks/tool-prompt.ts';
import { planTools, ToolReplyStream, type ToolPlan } from '../../src/openai/tools.ts';
import type { ChatRequestMessage, ChatTool } from '../../src/openai/types.ts';
import { mulberry32, randomTools } from '../support/schemas.ts';
import { STORIES_DIR } from '../support/sources.ts';

const tokenizerJson = JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer.json'), 'utf8'));
const tokenizerConfig = JSON.parse(readFileSync(join(STORIES_DIR, 'tokenizer_config.json'), 'utf8'));
const tokenizer = new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);
const trie = tokenTrie(tokenizer);
const ajv = new Ajv({ strict: false });

const weather: ChatTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 10 }, days: { type: 'integer' } }, required: ['city'], additionalProperties: false } },
};
const play: ChatTool = { type: 'function', function: { name: 'play' } };

const invalid = (f: () => unknown): InvalidArgumentError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return e as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
};

/** Feeds `text` to a fresh matcher for `plan`'s callable tools: accepted and complete? */
const accepts = (plan: ToolPlan, text: string): boolean => {
  const m = ToolCallMatcher.start(plan.callable);
  return [...new TextEncoder().encode(text)].every((b) => m.feed(b)) && m.complete;
};

/** The ids a constraint leaves allowed (with bytes: the end-of-text token is not sampled here). */
const allowedIds = (constraint: { mask(l: Float32Array): void }): number[] => {
  const logits = new Float32Array(trie.bytesOf.length);
  constraint.mask(logits);
  return [...logits.keys()].filter((id) => logits[id] === 0 && trie.bytesOf[id]);
};

/**
 * Samples among the allowed tokens until the constraint completes, turns to text or `maxTokens` pass.
 * With `callBias`, while the output may still become a call, that share of picks keeps it a call
 * (uniform picks almost never spell "<tool_call>" in a 512-token vocabulary).
 */
function randomRun(plan: ToolPlan, rand: () => number, callBias = 0, maxTokens = 2000): { constraint: ReturnType<typeof toolCallConstraint>; text: string } {
  const constraint = toolCallConstraint(tokenizer, plan, trie.bytesOf.length);
  const shadow = toolCallConstraint(tokenizer, { ...plan, mode: 'required' }, trie.bytesOf.length);
  const bytes: number[] = [];
  for (let tokens = 0; !constraint.complete && tokens < maxTokens && constraint.mode !== 'text'; tokens++) {
    let ids = allowedIds(constraint);
    expect(ids.length).toBeGreaterThan(0);
    if (constraint.mode === 'undecided' && rand() < callBias) ids = allowedIds(shadow).filter((id) => ids.includes(id));
    const id = ids[Math.floor(rand() * ids.length)]!;
    constraint.accept(id);
    shadow.accept(id);
    bytes.push(...trie.bytesOf[id]!);
  }
  return { constraint, text: new TextDecoder().decode(Uint8Array.from(bytes)) };
}

describe('tools and tool_choice validation', () => {
  it('a named tool_choice makes only that tool callable; auto is the default', () => {
    expect(planTools([weather, play], undefined)!.mode).toBe('auto');
    const plan = planTools([weather, play], { type: 'function', function: { name: 'play' } })!;
    expect(plan.mode).toBe('required');
    expect(plan.callable.map((t) => t.name)).toEqual(['play']);
    expect(plan.tools).toEqual([weather, play]);
    expect(planTools(undefined, 'none')).toBeNull();
  });

  it.each([
    ['duplicate names', () => planTools([weather, weather], 'auto'), /"get_weather" is used by more than one tool/],
    ['tool_choice naming an unknown tool', () => planTools([weather], { type: 'function', function: { name: 'fly' } }), /names "fly", which is not one of the tools \(get_weather\)/],
    ['an unsupported schema keyword', () => planTools([{ type: 'function', function: { name: 'x', parameters: { type: 'object', properties: { a: { type: 'integer', multipleOf: 2 } } } } }], 'auto'), /tools\[0\] \(x\): parameters use unsupported JSON Schema keywords: #\/properties\/a\/multipleOf/],
    ['parameters that are not an object schema', () => planTools([{ type: 'function', function: { name: 'x', parameters: { type: 'string' } } }], 'auto'), /parameters must be a JSON Schema of type "object"/],
    ['a name with spaces', () => planTools([{ type: 'function', function: { name: 'get weather' } }], 'auto'), /tools\[0\]\.function\.name must be 1 to 64 letters/],
    ['a tool that is not a function', () => planTools([{ type: 'retrieval' }], 'auto'), /tools\[0\] must be \{ type: "function"/],
    ['tool_choice required without tools', () => planTools(undefined, 'required'), /needs tools/],
    ['an unknown tool_choice', () => planTools([weather], 'always'), /tool_choice must be "none", "auto", "required"/],
  ])('%s is an InvalidArgumentError naming the problem', (_label, f, message) => {
    expect(invalid(f).message).toMatch(message);
  });

  it('tool turns: a tool result must answer an earlier call, and call arguments must be a JSON object', () => {
    const call = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'play', arguments: '{}' } }] };
    expect(validateMessages([{ role: 'user', content: 'hi' }, call, { role: 'tool', tool_call_id: 'call_1', content: 'done' }])).toHaveLength(3);
    expect(invalid(() => validateMessages([{ role: 'user', content: 'hi' }, { role: 'tool', tool_call_id: 'call_9', content: 'x' }])).message).toMatch(/messages\[1\]\.tool_call_id "call_9" does not answer any earlier tool call/);
    const badArgs = { ...call, tool_calls: [{ ...call.tool_calls[0], function: { name: 'play', arguments: '[1]' } }] };
    expect(invalid(() => validateMessages([badArgs])).message).toMatch(/messages\[0\]\.tool_calls\[0\]\.function\.arguments must be the JSON text of an object/);
  });
});

describe('the call text', () => {
  const plan = planTools([weather, play], 'required')!;

  it('accepts a call of any callable tool with valid arguments, and nothing else', () => {
    expect(accepts(plan, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}\n</tool_call>')).toBe(true);
    expect(accepts(plan, ' <tool_call>\n{"name": "play", "arguments": {}}\n</tool_call>')).toBe(true);
    expect(accepts(plan, '<tool_call>\n{"name": "get_weather", "arguments": {"days": 2}}\n</tool_call>')).toBe(false); // city is required
    expect(accepts(plan, '<tool_call>\n{"name": "play", "arguments": {"city": "Paris"}}\n</tool_call>')).toBe(false); // not play's argument
    expect(accepts(plan, '<tool_call>\n{"name": "fly", "arguments": {}}\n</tool_call>')).toBe(false);
    expect(accepts(planTools([weather, play], { type: 'function', function: { name: 'play' } })!, callText('get_weather', '{"city": "Rome"}'))).toBe(false);
  });

  it('knows the tool and where the arguments are while the call is generated', () => {
    const m = ToolCallMatcher.start(plan.callable);
    const text = callText('get_weather', '{"city": "Oslo"}');
    const bytes = new TextEncoder().encode(text);
    const argsAt = text.indexOf('{"city"');
    bytes.slice(0, argsAt - 1).forEach((b) => m.feed(b));
    expect(m.name).toBeNull();
    bytes.slice(argsAt - 1, argsAt + 5).forEach((b) => m.feed(b));
    expect(m.name).toBe('get_weather');
    expect(m.argumentsRange).toEqual([argsAt, argsAt + 5]);
    bytes.slice(argsAt + 5).forEach((b) => m.feed(b));
    expect(m.complete).toBe(true);
    expect(m.argumentsRange).toEqual([argsAt, argsAt + '{"city": "Oslo"}'.length]);
  });
});

describe('call constraints on random allowed tokens of the stories260K vocabulary', () => {
  it('required: for 200 random tool sets the output is always a complete call whose arguments validate', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = mulberry32(seed);
      const tools = randomTools(rand);
      const { constraint, text } = randomRun(planTools(tools, 'required')!, rand);
      expect(constraint.complete, `seed ${seed}: ${text}`).toBe(true);
      const call = constraint.call()!;
      const tool = tools.find((t) => t.function.name === call.name)!;
      expect(tool, `seed ${seed}: ${call.name}`).toBeDefined();
      expect(text.trimStart()).toBe(callText(call.name!, call.arguments));
      expect(ajv.validate(tool.function.parameters, JSON.parse(call.arguments)), `seed ${seed}: ${call.arguments}: ${ajv.errorsText()}`).toBe(true);
    }
  });

  it('auto: for 300 random tool sets the output becomes either text that is not a call or a complete valid call', () => {
    let calls = 0;
    let texts = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const rand = mulberry32(seed);
      const tools = randomTools(rand);
      const { constraint, text } = randomRun(planTools(tools, 'auto')!, rand, 0.95);
      if (constraint.mode === 'text') {
        texts++;
        expect('<tool_call>'.startsWith(text.trimStart()) || !text.trimStart().startsWith('<tool_call>'), `seed ${seed}: ${text}`).toBe(true);
        expect(constraint.call()).toBeNull();
        continue;
      }
      calls++;
      expect(constraint.complete, `seed ${seed}: ${text}`).toBe(true);
      const call = constraint.call()!;
      const tool = tools.find((t) => t.function.name === call.name)!;
      expect(ajv.validate(tool.function.parameters, JSON.parse(call.arguments)), `seed ${seed}: ${call.arguments}`).toBe(true);
    }
    // Both paths run: the bias keeps most outputs on the call, some leave it.
    expect(calls).toBeGreaterThan(50);
    expect(texts).toBeGreaterThan(10);
  });

  it('auto: once the output leaves "<tool_call>" it is text and nothing is masked', () => {
    const constraint = toolCallConstraint(tokenizer, planTools([weather], 'auto')!, trie.bytesOf.length);
    const ids = tokenizer.encode('<tool', { add_special_tokens: false });
    for (const id of ids) constraint.accept(id);
    expect(constraint.mode).toBe('undecided');
    constraint.accept(tokenizer.encode('x', { add_special_tokens: false }).at(-1)!);
    expect(constraint.mode).toBe('text');
    const logits = new Float32Array(trie.bytesOf.length);
    constraint.mask(logits);
    expect(logits.every((x) => x === 0)).toBe(true);
    expect(constraint.stoppable).toBe(true);
  });
});

describe('streamed deltas', () => {
  it('the first delta has index, id, type and name; argument fragments join to the arguments', () => {
    const rand = mulberry32(5);
    const plan = planTools([weather], 'required')!;
    const constraint = toolCallConstraint(tokenizer, plan, trie.bytesOf.length);
    const stream = new ToolReplyStream(constraint, 'call_x');
    const deltas = [];
    while (!constraint.complete) {
      const ids = allowedIds(constraint);
      constraint.accept(ids[Math.floor(rand() * ids.length)]!);
      deltas.push(...stream.push('ignored: the call comes from the constraint'));
    }
    deltas.push(...stream.finish());
    const calls = deltas.map((d) => d.tool_calls![0]!);
    expect(calls[0]).toEqual({ index: 0, id: 'call_x', type: 'function', function: { name: 'get_weather', arguments: expect.any(String) } });
    for (const c of calls.slice(1)) expect(Object.keys(c).sort()).toEqual(['function', 'index']);
    expect(calls.map((c) => c.function!.arguments).join('')).toBe(constraint.call()!.arguments);
    expect(calls.length).toBeGreaterThan(3);
  });

  it('auto: text is held back while it may still become a call, then sent whole as content', () => {
    const constraint = toolCallConstraint(tokenizer, planTools([weather], 'auto')!, trie.bytesOf.length);
    const stream = new ToolReplyStream(constraint, 'call_x');
    const deltas = [];
    for (const id of tokenizer.encode('<tool', { add_special_tokens: false })) {
      constraint.accept(id);
      deltas.push(...stream.push(tokenizer.decode([id])));
    }
    expect(deltas).toEqual([]);
    const x = tokenizer.encode('x', { add_special_tokens: false }).at(-1)!;
    constraint.accept(x);
    deltas.push(...stream.push('x'), ...stream.push(' more'), ...stream.finish());
    expect(deltas).toEqual([{ content: '<toolx' }, { content: ' more' }]);
  });

  it('auto: text still undecided when generation ends is sent at the finish', () => {
    const constraint = toolCallConstraint(tokenizer, planTools([weather], 'auto')!, trie.bytesOf.length);
    const stream = new ToolReplyStream(constraint, 'call_x');
    const lt = tokenizer.encode('<', { add_special_tokens: false }).at(-1)!;
    constraint.accept(lt);
    expect(stream.push('<')).toEqual([]);
    expect(stream.finish()).toEqual([{ content: '<' }]);
  });
});

describe('prompts', () => {
  const conversation: ChatRequestMessage[] = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Oslo?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
  ];

  it('without a chat template: the documented default, tools in the system message and turns as text', () => {
    const text = tokenizer.decode(chatPromptIds(tokenizer, conversation, planTools([weather], 'auto')), { skip_special_tokens: true });
    expect(text).toBe(
      [
        'Be brief.',
        '',
        'Tools (name, description, JSON Schema of the arguments):',
        JSON.stringify({ name: 'get_weather', description: 'Weather in a city', parameters: weather.function.parameters }),
        'To call one, answer with only:',
        '<tool_call>',
        '{"name": "<tool name>", "arguments": {…}}',
        '</tool_call>',
        '',
        'User: Weather in Oslo?',
        'Assistant: <tool_call>',
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}',
        '</tool_call>',
        'User: <tool_response>',
        'Sunny',
        '</tool_response>',
        'Assistant:',
      ].join('\n'),
    );
  });

  it("tool_choice 'none' leaves the tools out of the prompt", () => {
    const messages: ChatRequestMessage[] = [{ role: 'user', content: 'Hi' }];
    expect(chatPromptIds(tokenizer, messages, planTools([weather], 'none'))).toEqual(chatPromptIds(tokenizer, messages));
  });

  it("templates without tool support (SmolLM2's, Gemma 3's) get the default section and alternating turns", () => {
    const withTemplate = (file: string): PreTrainedTokenizer => new PreTrainedTokenizer(tokenizerJson, { ...tokenizerConfig, chat_template: readFileSync(join(import.meta.dirname, '../fixtures', file), 'utf8') });
    const followUp: ChatRequestMessage[] = [...conversation, { role: 'user', content: 'And tomorrow?' }];
    const smollm = withTemplate('smollm2-chat.jinja');
    expect(templateCallsTools(smollm)).toBe(false);
    const smollmText = smollm.decode(chatPromptIds(smollm, followUp, planTools([weather], 'auto')));
    expect(smollmText).toContain('<|im_start|>system\nBe brief.\n\nTools (name, description, JSON Schema of the arguments):\n{"name":"get_weather"');
    expect(smollmText).toContain('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>');
    expect(smollmText).toContain('<|im_start|>user\n<tool_response>\nSunny\n</tool_response>\nAnd tomorrow?<|im_end|>\n<|im_start|>assistant\n');
    // Gemma's template raises unless user and model turns alternate: results and the next user message share a turn.
    const gemma = withTemplate('gemma3-chat.jinja');
    expect(templateCallsTools(gemma)).toBe(false);
    const gemmaText = gemma.decode(chatPromptIds(gemma, followUp, planTools([weather], 'auto')));
    expect(gemmaText).toContain('<start_of_turn>user\nBe brief.\n\nTools (name, description, JSON Schema of the arguments):');
    expect(gemmaText).toContain('<start_of_turn>model\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><end_of_turn>\n<start_of_turn>user\n<tool_response>\nSunny\n</tool_response>\nAnd tomorrow?<end_of_turn>\n<start_of_turn>model\n');
  });

  it('a Hermes-style chat template is detected and renders the tools and tool turns itself', () => {
    const hermes = new PreTrainedTokenizer(tokenizerJson, { ...tokenizerConfig, chat_template: readFileSync(join(import.meta.dirname, '../fixtures/hermes-tools.jinja'), 'utf8') });
    const chatml = new PreTrainedTokenizer(tokenizerJson, { ...tokenizerConfig, chat_template: "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}" });
    expect(templateCallsTools(hermes)).toBe(true);
    expect(templateCallsTools(chatml)).toBe(false);
    const text = hermes.decode(chatPromptIds(hermes, conversation, planTools([weather], 'auto')));
    expect(text).toContain(`<tools>\n${JSON.stringify(weather)}\n</tools>`.replaceAll('":', '": ').replaceAll(',"', ', "'));
    expect(text).toContain('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>');
    expect(text).toContain('<|im_start|>user\n<tool_response>\nSunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n');
    // A template without tool support gets the default section in its system turn.
    const plain = chatml.decode(chatPromptIds(chatml, conversation, planTools([weather], 'auto')));
    expect(plain).toContain('<|im_start|>system\nBe brief.\n\nTools (name, description, JSON Schema of the arguments):');
    expect(plain).toContain('<|im_start|>user\n<tool_response>\nSunny\n</tool_response><|im_end|>');
  });
});
