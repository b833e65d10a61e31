/** The demo's chat, extraction and skills panels: clients of the public API like the rest of the page. */
import { SlmError, type ChatMessage, type ModelHandle, type SlmClient } from '../src/index.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

export function setupTaskPanels(client: SlmClient, model: () => Promise<ModelHandle>, showError: (err: unknown) => void): void {
  const busy = async (button: HTMLButtonElement, fn: () => Promise<void>): Promise<void> => {
    button.disabled = true;
    try {
      await fn();
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  };

  // Chat: the conversation so far, streamed through the OpenAI-compatible API.
  const history: ChatMessage[] = [];
  const log = $('chat-log');
  const bubble = (role: 'user' | 'assistant', text: string): HTMLElement => {
    const el = document.createElement('div');
    el.className = `bubble ${role}`;
    el.textContent = text;
    log.append(el);
    return el;
  };
  const send = $<HTMLButtonElement>('chat-send');
  send.addEventListener('click', () =>
    void busy(send, async () => {
      const input = $<HTMLInputElement>('chat-input');
      history.push({ role: 'user', content: input.value });
      bubble('user', input.value);
      const reply = bubble('assistant', '');
      const stream = await (await model()).chat.completions.create({ messages: history, max_tokens: 80, temperature: 0.7, seed: 1, stream: true });
      for await (const chunk of stream) reply.textContent += chunk.choices[0]?.delta.content ?? '';
      history.push({ role: 'assistant', content: reply.textContent ?? '' });
      log.scrollTop = log.scrollHeight;
    }),
  );

  // Extraction: whatever the model writes is valid JSON for the schema.
  const extract = $<HTMLButtonElement>('extract-run');
  extract.addEventListener('click', () =>
    void busy(extract, async () => {
      const out = $('extract-result');
      let schema: unknown;
      try {
        schema = JSON.parse($<HTMLTextAreaElement>('extract-schema').value);
      } catch {
        out.textContent = 'The schema is not valid JSON.';
        return;
      }
      const { value } = await (await model()).extract($<HTMLTextAreaElement>('extract-text').value, schema, { temperature: 0.7, seed: 1 });
      out.textContent = JSON.stringify(value, null, 2);
    }),
  );

  // Skills: train a classifier on pasted examples, look at its evaluation, try it, export and import it.
  const train = $<HTMLButtonElement>('skill-train');
  const progress = $<HTMLProgressElement>('skill-progress');
  const report = $('skill-report');
  const runButton = $<HTMLButtonElement>('skill-run');
  const exportButton = $<HTMLButtonElement>('skill-export');
  const deleteButton = $<HTMLButtonElement>('skill-delete');
  const skillName = (): string => $<HTMLInputElement>('skill-name').value.trim();
  const renderSkills = async (): Promise<void> => {
    const skills = await client.listSkills();
    $('skill-list').textContent = skills.length ? `Saved: ${skills.map((s) => `${s.name} (v${s.version})`).join(', ')}` : 'No saved skills';
    const has = skills.some((s) => s.name === skillName());
    runButton.disabled = !has;
    exportButton.disabled = !has;
    deleteButton.disabled = !has;
  };
  train.addEventListener('click', () =>
    void busy(train, async () => {
      const examples = $<HTMLTextAreaElement>('skill-examples')
        .value.split('\n')
        .map((line) => /^\s*([^:]+?)\s*:\s*(.+)$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ label: m[1]!, text: m[2]! }));
      const handle = await model();
      const result = await handle.trainClassifier(examples, {
        seed: 1,
        onProgress: (p) => {
          progress.value = p.phase === 'features' ? (0.5 * (p.done ?? 0)) / (p.total ?? 1) : 0.5 + (0.5 * p.epoch) / p.maxEpochs;
        },
      });
      progress.value = 1;
      const chance = 1 / result.head.labels.length;
      report.textContent = `Held-out accuracy ${(result.accuracy * 100).toFixed(0)} % on ${result.validationSize} examples (chance ${(chance * 100).toFixed(0)} %), trained on ${result.trainSize}.`;
      const table = $<HTMLTableElement>('skill-confusion');
      table.replaceChildren();
      const head = table.createTHead().insertRow();
      for (const h of ['actual \\ predicted', ...result.head.labels]) head.append(Object.assign(document.createElement('th'), { textContent: h }));
      const body = table.createTBody();
      result.confusion.forEach((row, i) => {
        const tr = body.insertRow();
        tr.insertCell().textContent = result.head.labels[i]!;
        for (const n of row) tr.insertCell().textContent = String(n);
      });
      await handle.saveSkill({ name: skillName(), task: { kind: 'classifier', head: result.head }, evaluation: result });
      await renderSkills();
    }),
  );
  runButton.addEventListener('click', () =>
    void busy(runButton, async () => {
      const p = (await (await model()).runSkill(skillName(), $<HTMLInputElement>('skill-try').value)) as Record<string, number>;
      $('skill-result').textContent = Object.entries(p)
        .sort((a, b) => b[1] - a[1])
        .map(([label, prob]) => `${label} ${(prob * 100).toFixed(0)} %`)
        .join(' · ');
    }),
  );
  exportButton.addEventListener('click', () =>
    void busy(exportButton, async () => {
      const file = new Blob([await client.exportSkill(skillName())], { type: 'application/json' });
      const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(file), download: `${skillName()}.skill.json` });
      a.click();
      URL.revokeObjectURL(a.href);
    }),
  );
  deleteButton.addEventListener('click', () => void client.deleteSkill(skillName()).then(renderSkills, showError));
  $<HTMLInputElement>('skill-import').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    void file
      .text()
      .then((text) => client.importSkill(text))
      .then((skill) => {
        $<HTMLInputElement>('skill-name').value = skill.name;
        return renderSkills();
      })
      .catch((err: unknown) => showError(err instanceof SlmError ? err : new Error(String(err))));
  });
  $<HTMLInputElement>('skill-name').addEventListener('input', () => void renderSkills());
  void renderSkills();
  for (const id of ['chat-send', 'extract-run', 'skill-train']) $<HTMLButtonElement>(id).disabled = false;
}
