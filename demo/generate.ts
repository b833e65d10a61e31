/** The Generate panel: streams a continuation of the prompt, says how the run ended and shows that run's metrics. */
import { SlmError, type FinishReason, type GenerationStats, type ModelHandle } from '../src/index.ts';
import { Panel, readNumber } from './panel.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function describeEnd(reason: Exclude<FinishReason, 'aborted'>, stats: GenerationStats, maxNewTokens: number, stop: string): string {
  const tokens = `${stats.generatedTokens} token${stats.generatedTokens === 1 ? '' : 's'}`;
  switch (reason) {
    case 'eos':
      return `Ended: the model ended the text (end of text) after ${tokens}.`;
    case 'stop':
      return `Ended: reached the stop string ${JSON.stringify(stop)} after ${tokens}.`;
    case 'length':
      return stats.generatedTokens < maxNewTokens
        ? `Ended: the model's context is full (${stats.promptTokens} prompt + ${tokens}).`
        : `Ended: reached the limit of ${maxNewTokens} new tokens.`;
  }
}

export function setupGeneratePanel(model: () => Promise<ModelHandle>): void {
  const panel = Panel.byHeading('generate-heading');
  const ui = {
    prompt: $<HTMLTextAreaElement>('prompt'),
    maxTokens: $<HTMLInputElement>('max-tokens'),
    temperature: $<HTMLInputElement>('temperature'),
    seed: $<HTMLInputElement>('seed'),
    stopAt: $<HTMLInputElement>('stop-at'),
    generate: $<HTMLButtonElement>('generate'),
    stop: $<HTMLButtonElement>('stop'),
    output: $('output'),
    finish: $('finish'),
    metrics: $('metrics'),
  };
  let running: AbortController | null = null;

  ui.generate.addEventListener('click', () =>
    void panel.run(ui.generate, async () => {
      // Everything shown belongs to this run: nothing of the previous one stays.
      ui.output.replaceChildren();
      ui.finish.textContent = '';
      ui.metrics.textContent = '';
      const options = {
        maxNewTokens: readNumber(ui.maxTokens, 'Max new tokens'),
        temperature: readNumber(ui.temperature, 'Temperature'),
        seed: readNumber(ui.seed, 'Seed'),
      };
      // "\n" typed in the field means a line break.
      const stop = ui.stopAt.value.replaceAll('\\n', '\n');
      const prompt = ui.prompt.value;
      const handle = await model();
      const controller = new AbortController();
      running = controller;
      ui.stop.disabled = false;
      // The prompt appears with the first generated text, so a prompt the model rejects is never shown as output.
      const generated = document.createTextNode('');
      const show = (): void => {
        if (!ui.output.hasChildNodes()) ui.output.append(Object.assign(document.createElement('span'), { className: 'prompt', textContent: prompt }), generated);
      };
      try {
        const stream = handle.stream(prompt, { ...options, ...(stop && { stop: [stop] }), signal: controller.signal });
        for await (const chunk of stream) {
          show();
          generated.appendData(chunk);
        }
        const { stats, finishReason } = await stream.result;
        show();
        if (finishReason !== 'aborted') ui.finish.textContent = describeEnd(finishReason, stats, options.maxNewTokens, stop);
        const { info } = handle;
        ui.metrics.textContent =
          `${stats.backend.toUpperCase()} · ${info.dtype} · ${info.threads} thread${info.threads === 1 ? '' : 's'} · load ${info.load.totalMs.toFixed(0)} ms · ` +
          `TTFT ${stats.timeToFirstTokenMs.toFixed(0)} ms · prefill ${stats.prefillTokensPerSecond.toFixed(0)} tok/s · ` +
          `decode ${stats.decodeTokensPerSecond.toFixed(1)} tok/s · ${stats.promptTokens} in / ${stats.generatedTokens} out`;
      } catch (err) {
        // Only the Stop button is a normal end; an abort from elsewhere (the model unloaded) is an error.
        if (!(err instanceof SlmError && err.code === 'aborted' && controller.signal.aborted)) throw err;
        const tokens = err.details.generatedTokens;
        ui.finish.textContent = `Stopped by you${typeof tokens === 'number' ? ` after ${tokens} token${tokens === 1 ? '' : 's'}` : ''}.`;
      } finally {
        running = null;
        ui.stop.disabled = true;
      }
    }),
  );
  ui.stop.addEventListener('click', () => running?.abort());
  ui.generate.disabled = false;
}
