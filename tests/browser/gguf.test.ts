/** The GGUF files the pipeline exports run in llama.cpp (wllama, in Chromium) and give the reference greedy text. */
import { describe, expect, it } from 'vitest';
import { KNOWN_GOOD } from '../support/sources.ts';
import { withoutCsp } from '../../scripts/harness.ts';
import { appUrl, useBrowser } from './support/browser.ts';

describe('GGUF export in llama.cpp (wllama)', () => {
  const browser = useBrowser({ webgpu: false });

  it.each(['model-f32.gguf', 'model-q8_0.gguf'])('%s greedy-decodes the known-good continuation', async (file) => {
    const context = await browser().newContext();
    await withoutCsp(context, '**/bench/page/index.html'); // for wllama's blob: workers
    const page = await context.newPage();
    await page.goto(appUrl('bench/page/index.html'));
    await page.waitForSelector('body[data-ready="true"]');
    const text = await page.evaluate(async ({ url, prompt }) => {
      const bench = (window as unknown as { bench: import('../../bench/page/bench.ts').BenchPage }).bench;
      await bench.wllamaOpen(url, 1);
      const run = await bench.wllamaGenerate(prompt, 30);
      await bench.wllamaClose();
      return run.text;
    }, { url: `/models/stories260k/gguf/${file}`, prompt: KNOWN_GOOD.prompt });
    expect(KNOWN_GOOD.text.startsWith(KNOWN_GOOD.prompt + text)).toBe(true);
    expect(text.length).toBeGreaterThan(60);
    await context.close();
  });
});
