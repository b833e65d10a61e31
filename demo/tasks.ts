/** The demo's chat, extraction and skills panels: clients of the public API like the rest of the page. */
import type { ChatMessage, ModelHandle, SlmClient } from '../src/index.ts';
import { downloadJson, Panel } from './panel.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

export function setupTaskPanels(client: SlmClient, model: () => Promise<ModelHandle>): void {
  // Chat: the conversation so far, streamed through the OpenAI-compatible API.
  const chat = Panel.byHeading('chat-heading');
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
    void chat.run(send, async () => {
      const input = $<HTMLInputElement>('chat-input');
      const handle = await model();
      const messages: ChatMessage[] = [...history, { role: 'user', content: input.value }];
      bubble('user', input.value);
      const reply = bubble('assistant', '');
      const stream = await handle.chat.completions.create({ messages, max_tokens: 80, temperature: 0.7, seed: 1, stream: true });
      for await (const chunk of stream) reply.textContent += chunk.choices[0]?.delta.content ?? '';
      // Only a completed exchange becomes part of the conversation.
      history.push(messages.at(-1)!, { role: 'assistant', content: reply.textContent ?? '' });
      log.scrollTop = log.scrollHeight;
    }),
  );

  // Extraction: whatever the model writes is valid JSON for the schema.
  const extraction = Panel.byHeading('extract-heading');
  const extract = $<HTMLButtonElement>('extract-run');
  const extracted = $('extract-result');
  extract.addEventListener('click', () =>
    void extraction.run(extract, async () => {
      extracted.textContent = '';
      let schema: unknown;
      try {
        schema = JSON.parse($<HTMLTextAreaElement>('extract-schema').value);
      } catch (err) {
        throw new Error(`The JSON schema is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      const { value } = await (await model()).extract($<HTMLTextAreaElement>('extract-text').value, schema, { temperature: 0.7, seed: 1 });
      extracted.textContent = JSON.stringify(value, null, 2);
    }),
  );

  // Skills: train a classifier on pasted examples, look at its evaluation, try it, export and import it.
  const skills = Panel.byHeading('skills-heading');
  const train = $<HTMLButtonElement>('skill-train');
  const progress = $<HTMLProgressElement>('skill-progress');
  const progressText = $('skill-progress-text');
  const report = $('skill-report');
  const confusion = $<HTMLTableElement>('skill-confusion');
  const result = $('skill-result');
  const runButton = $<HTMLButtonElement>('skill-run');
  const exportButton = $<HTMLButtonElement>('skill-export');
  const deleteButton = $<HTMLButtonElement>('skill-delete');
  const skillName = (): string => $<HTMLInputElement>('skill-name').value.trim();
  const renderSkills = async (): Promise<void> => {
    const saved = await client.listSkills();
    $('skill-list').textContent = saved.length ? `Saved: ${saved.map((s) => `${s.name} (v${s.version})`).join(', ')}` : 'No saved skills';
    const has = saved.some((s) => s.name === skillName());
    runButton.disabled = !has;
    exportButton.disabled = !has;
    deleteButton.disabled = !has;
  };
  train.addEventListener('click', () =>
    void skills.run(train, async () => {
      report.textContent = '';
      confusion.replaceChildren();
      progress.value = 0;
      progressText.textContent = '';
      const examples = $<HTMLTextAreaElement>('skill-examples')
        .value.split('\n')
        .map((line) => /^\s*([^:]+?)\s*:\s*(.+)$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ label: m[1]!, text: m[2]! }));
      const handle = await model();
      // Progress travels on its own channel and may trail the result: none counts after it.
      let finished = false;
      const training = handle.trainClassifier(examples, {
        seed: 1,
        onProgress: (p) => {
          if (finished) return;
          if (p.phase === 'features') {
            // Embedding the examples is most of the work: the bar follows it example by example.
            progress.value = (p.done ?? 0) / (p.total ?? 1);
            progressText.textContent = `Embedding examples: ${p.done} of ${p.total}`;
          } else {
            // Training stops early when the held-out loss stops improving: its end is not known in advance.
            progress.removeAttribute('value');
            progressText.textContent = `Fitting the classifier: epoch ${p.epoch} (at most ${p.maxEpochs})`;
          }
        },
      });
      const trained = await training.finally(() => {
        finished = true;
        progress.value = 0;
        progressText.textContent = '';
      });
      progress.value = 1;
      progressText.textContent = `Trained in ${trained.epochs} epochs`;
      const chance = 1 / trained.head.labels.length;
      report.textContent = `Held-out accuracy ${(trained.accuracy * 100).toFixed(0)} % on ${trained.validationSize} examples (chance ${(chance * 100).toFixed(0)} %), trained on ${trained.trainSize}.`;
      const head = confusion.createTHead().insertRow();
      for (const h of ['actual \\ predicted', ...trained.head.labels]) head.append(Object.assign(document.createElement('th'), { textContent: h }));
      const body = confusion.createTBody();
      trained.confusion.forEach((row, i) => {
        const tr = body.insertRow();
        tr.insertCell().textContent = trained.head.labels[i]!;
        for (const n of row) tr.insertCell().textContent = String(n);
      });
      await handle.saveSkill({ name: skillName(), task: { kind: 'classifier', head: trained.head }, evaluation: trained });
      await renderSkills();
    }),
  );
  runButton.addEventListener('click', () =>
    void skills.run(runButton, async () => {
      result.textContent = '';
      const answer = await (await model()).runSkill(skillName(), $<HTMLInputElement>('skill-try').value);
      // An adapter skill (from the Teach panel) answers with text; the others with a probability per label.
      if (typeof answer === 'string') {
        result.textContent = answer;
        return;
      }
      result.textContent = Object.entries(answer as Record<string, number>)
        .sort((a, b) => b[1] - a[1])
        .map(([label, prob]) => `${label} ${(prob * 100).toFixed(0)} %`)
        .join(' · ');
    }),
  );
  exportButton.addEventListener('click', () =>
    void skills.run(exportButton, async () => {
      downloadJson(`${skillName()}.skill.json`, await client.exportSkill(skillName()));
    }),
  );
  deleteButton.addEventListener('click', () =>
    // Not run(deleteButton): once the skill is gone, renderSkills leaves the button disabled.
    void skills.run(null, async () => {
      if (!confirm(`Delete the skill "${skillName()}" from this browser? Export it first to keep a copy.`)) return;
      deleteButton.disabled = true;
      await client.deleteSkill(skillName());
      result.textContent = '';
      await renderSkills();
    }),
  );
  $<HTMLInputElement>('skill-import').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    void skills.run(null, async () => {
      const skill = await client.importSkill(await file.text());
      $<HTMLInputElement>('skill-name').value = skill.name;
      await renderSkills();
    });
  });
  $<HTMLInputElement>('skill-name').addEventListener('input', () => void skills.run(null, renderSkills));
  void skills.run(null, renderSkills);
  for (const button of [send, extract, train]) button.disabled = false;
}
