/**
 * The Teach panel: fine-tunes a LoRA adapter on the user's examples through the public API, with live
 * progress and loss, then shows the held-out examples before and after, saves the adapter as a skill
 * and exports it. Bad input is reported before anything is cleared, so nothing typed or shown is lost.
 */
import { SlmError, type FineTuneProgress, type FineTuneReport, type ModelHandle, type SlmClient } from '../src/index.ts';
import { LossChart, type LossPoint } from './loss-chart.ts';
import { downloadJson, mb, Panel, readNumber } from './panel.ts';
import { chanceOf, ExamplesError, parseExamples } from './teach-examples.ts';

const $ = <T extends Element>(id: string): T => document.getElementById(id) as unknown as T;
const percent = (x: number): string => `${(x * 100).toFixed(0)} %`;

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function describeProgress(p: FineTuneProgress, epochs: number): string {
  const heldOut = p.heldOutLoss === undefined ? '' : ` · held-out loss ${p.heldOutLoss.toFixed(3)}`;
  const end = p.step === p.steps ? ' · scoring the held-out examples…' : ` · about ${duration(p.etaMs)} left`;
  return `Step ${p.step} of ${p.steps} · epoch ${p.epoch} of ${epochs} · train loss ${p.trainLoss.toFixed(3)}${heldOut} · ${p.tokensPerSecond.toFixed(0)} tokens/s${end}`;
}

export function setupTeachPanel(client: SlmClient, model: () => Promise<ModelHandle>): void {
  const panel = Panel.byHeading('teach-heading');
  const ui = {
    examples: $<HTMLTextAreaElement>('teach-examples'),
    file: $<HTMLInputElement>('teach-file'),
    count: $<HTMLElement>('teach-count'),
    name: $<HTMLInputElement>('teach-name'),
    rank: $<HTMLInputElement>('teach-rank'),
    epochs: $<HTMLInputElement>('teach-epochs'),
    run: $<HTMLButtonElement>('teach-run'),
    stop: $<HTMLButtonElement>('teach-stop'),
    progress: $<HTMLProgressElement>('teach-progress'),
    status: $<HTMLElement>('teach-status'),
    report: $<HTMLElement>('teach-report'),
    save: $<HTMLButtonElement>('teach-save'),
    export: $<HTMLButtonElement>('teach-export'),
  };
  const chart = new LossChart($<SVGSVGElement>('teach-loss'), $<HTMLElement>('teach-loss-legend'));
  const columns = (['before', 'after'] as const).map((side) => ({ side, summary: $<HTMLElement>(`teach-${side}-summary`), list: $<HTMLOListElement>(`teach-${side}-list`) }));
  /** The last finished run: its report and the model it trained on (the adapter lives there). */
  let trained: { report: FineTuneReport; handle: ModelHandle } | null = null;
  let running: AbortController | null = null;

  const countExamples = (): void => {
    try {
      const examples = parseExamples(ui.examples.value);
      ui.count.textContent = `${examples.length} example${examples.length === 1 ? '' : 's'}`;
    } catch {
      ui.count.textContent = '';
    }
  };

  const clearResults = (): void => {
    trained = null;
    ui.save.disabled = true;
    ui.export.disabled = true;
    ui.report.textContent = '';
    ui.status.textContent = '';
    ui.progress.value = 0;
    chart.draw([], [], 1);
    for (const c of columns) {
      c.summary.textContent = '';
      c.list.replaceChildren();
    }
  };

  const showReport = (report: FineTuneReport, examples: number, chance: number | undefined): void => {
    const n = report.heldOut.length;
    const chanceText = chance === undefined ? '' : ` (chance ${percent(chance)})`;
    ui.report.textContent =
      `Held-out exact match ${percent(report.before.exactMatch)} before → ${percent(report.after.exactMatch)} after, on ${n} examples${chanceText}; ` +
      `trained on ${examples - n} in ${duration(report.ms)} · adapter ${mb(report.adapterBytes)}`;
    for (const { side, summary, list } of columns) {
      summary.textContent = `Exact match ${percent(report[side].exactMatch)} of ${n}`;
      list.replaceChildren(
        ...report.heldOut.map((h) => {
          const item = document.createElement('li');
          const hit = h[side].trim() === h.expected.trim();
          item.className = hit ? 'hit' : 'miss';
          item.append(
            Object.assign(document.createElement('span'), { className: 'input', textContent: h.prompt }),
            ` → ${h[side] || '(nothing)'} `,
            Object.assign(document.createElement('span'), { className: 'mark', textContent: hit ? '✓' : `✗ expected ${h.expected}` }),
          );
          return item;
        }),
      );
    }
  };

  ui.run.addEventListener('click', () =>
    void panel.run(ui.run, async () => {
      // Everything is checked before the last results are cleared: a typo loses nothing.
      const examples = parseExamples(ui.examples.value);
      const options = { name: ui.name.value.trim(), rank: readNumber(ui.rank, 'Rank'), epochs: readNumber(ui.epochs, 'Epochs'), seed: 1 };
      const handle = await model();
      clearResults();
      const controller = new AbortController();
      running = controller;
      ui.stop.disabled = false;
      ui.progress.removeAttribute('value'); // until the first step, the work has no known fraction
      ui.status.textContent = 'Preparing the examples…';
      const train: LossPoint[] = [];
      const heldOut: LossPoint[] = [];
      let last: FineTuneProgress | null = null;
      // Progress travels on its own channel and may trail the result: none counts after it.
      let finished = false;
      try {
        const report = await handle.fineTune(examples, {
          ...options,
          signal: controller.signal,
          onProgress: (p) => {
            if (finished) return;
            last = p;
            train.push({ step: p.step, loss: p.trainLoss });
            if (p.heldOutLoss !== undefined) heldOut.push({ step: p.step, loss: p.heldOutLoss });
            chart.draw(train, heldOut, p.steps);
            ui.progress.value = p.step / p.steps;
            ui.status.textContent = describeProgress(p, options.epochs);
          },
        });
        finished = true;
        // The report is the record of the run: the chart ends on its curves.
        chart.draw(report.trainLoss, report.heldOutLoss, Math.max(...report.trainLoss.map((p) => p.step), 1));
        ui.progress.value = 1;
        ui.status.textContent = `Fine-tuned in ${duration(report.ms)}`;
        showReport(report, examples.length, chanceOf(examples));
        trained = { report, handle };
        ui.save.disabled = false;
      } catch (err) {
        finished = true;
        // Only the Stop button is a normal end; any other abort (the model unloaded) is an error.
        if (!(err instanceof SlmError && err.code === 'aborted' && controller.signal.aborted)) throw err;
        const at = last as FineTuneProgress | null; // set by onProgress, which TypeScript does not follow
        ui.progress.value = 0;
        ui.status.textContent = `Stopped by you${at ? ` at step ${at.step} of ${at.steps}` : ' before the first step'}; the model is unchanged.`;
      } finally {
        running = null;
        ui.stop.disabled = true;
      }
    }),
  );
  ui.stop.addEventListener('click', () => running?.abort());

  ui.save.addEventListener('click', () =>
    void panel.run(ui.save, async () => {
      if (!trained) return;
      const { report, handle } = trained;
      const skill = await handle.saveSkill({ name: report.adapter, description: ui.report.textContent ?? '', task: { kind: 'adapter', adapter: report.adapter } });
      ui.status.textContent = `Saved as the skill "${skill.name}" (v${skill.version}): the Skills panel runs it.`;
      ui.export.disabled = false;
    }),
  );
  ui.export.addEventListener('click', () =>
    void panel.run(ui.export, async () => {
      if (trained) downloadJson(`${trained.report.adapter}.skill.json`, await client.exportSkill(trained.report.adapter));
    }),
  );

  // A file replaces the examples only once it reads as examples; otherwise the text stays as it was.
  ui.file.addEventListener('change', () => {
    const file = ui.file.files?.[0];
    if (!file) return;
    void panel.run(null, async () => {
      const text = await file.text();
      ui.file.value = '';
      try {
        parseExamples(text);
      } catch (err) {
        throw new Error(`${file.name}: ${err instanceof ExamplesError ? err.message : String(err)}`);
      }
      ui.examples.value = text;
      countExamples();
    });
  });
  ui.examples.addEventListener('input', countExamples);
  countExamples();
  ui.run.disabled = false;
}
