/** The demo page: a client of the public API, exactly as an embedder would write it. */
import { SlmClient, SlmError, type Dtype, type DeviceRequest, type ModelHandle, type ModelInfo, type ProgressEvent } from '../src/index.ts';
import { setupTaskPanels } from './tasks.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  model: $<HTMLSelectElement>('model'),
  dtype: $<HTMLSelectElement>('dtype'),
  device: $<HTMLSelectElement>('device'),
  load: $<HTMLButtonElement>('load'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $('progress-text'),
  prompt: $<HTMLTextAreaElement>('prompt'),
  maxTokens: $<HTMLInputElement>('max-tokens'),
  temperature: $<HTMLInputElement>('temperature'),
  seed: $<HTMLInputElement>('seed'),
  generate: $<HTMLButtonElement>('generate'),
  stop: $<HTMLButtonElement>('stop'),
  output: $('output'),
  metrics: $('metrics'),
  error: $('error'),
  storageUsage: $('storage-usage'),
  persist: $<HTMLButtonElement>('persist'),
  persistStatus: $('persist-status'),
  clearCache: $<HTMLButtonElement>('clear-cache'),
  cachedModels: $<HTMLTableSectionElement>('cached-models'),
};

// After the first visit the built demo reloads offline: sw.js (see src/vite/offline-shell.ts) keeps
// the app shell, the IndexedDB cache keeps the models.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  void navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { scope: './' });
}

const client = await SlmClient.inWorker();
let model: ModelHandle | null = null;
let loadedKey = '';
let running: AbortController | null = null;

const params = new URLSearchParams(location.search);
const index = (await fetch(new URL('models/index.json', document.baseURI)).then((r) => r.json()).catch(() => ({ models: [] }))) as { models: Array<{ id: string; kind?: string }> };
// The picker loads a model to generate with; encoder-only models embed but do not generate.
const generators = index.models.filter((m) => m.kind !== 'encoder');
for (const { id } of generators.length ? generators : [{ id: 'stories260k' }]) ui.model.add(new Option(id, id, id === 'stories260k', id === 'stories260k'));
for (const [key, select] of [['model', ui.model], ['dtype', ui.dtype], ['device', ui.device]] as const) {
  const value = params.get(key);
  if (value) select.value = value;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
function showProgress(e: ProgressEvent): void {
  if (e.phase === 'fetch') {
    const total = e.totalBytes;
    ui.progress.value = total ? e.totalLoaded / total : 0;
    ui.progressText.textContent = `Downloading ${e.file} · ${mb(e.totalLoaded)}${total ? ` of ${mb(total)}` : ''}`;
  } else if (e.phase === 'ready') {
    ui.progress.value = 1; // the status line is written when load() resolves (this event may arrive after it)
  } else {
    ui.progressText.textContent = e.phase === 'compile' ? 'Creating session…' : 'Checking backend…';
  }
}

function showError(err: unknown): void {
  ui.error.hidden = false;
  ui.error.textContent = err instanceof SlmError ? `${err.name} (${err.code}): ${err.message}` : String(err);
}

function describe(info: ModelInfo): string {
  return `${info.backend.toUpperCase()} · ${info.dtype} · ${info.threads} thread${info.threads === 1 ? '' : 's'} · load ${info.load.totalMs.toFixed(0)} ms`;
}

async function ensureLoaded(): Promise<ModelHandle> {
  const key = `${ui.model.value}|${ui.dtype.value}|${ui.device.value}`;
  if (model && key === loadedKey) return model;
  if (model) await model.unload();
  model = null;
  ui.error.hidden = true;
  ui.progressText.textContent = 'Loading…';
  model = await client.load(ui.model.value, {
    dtype: ui.dtype.value as Dtype,
    device: ui.device.value as DeviceRequest,
    onProgress: showProgress,
  });
  loadedKey = key;
  ui.progressText.textContent = `Ready · ${describe(model.info)}`;
  ui.progressText.title = model.info.backendReason;
  void renderStorage();
  return model;
}

async function renderStorage(): Promise<void> {
  const [models, usage, persisted] = await Promise.all([client.cachedModels(), client.storageUsage(), navigator.storage?.persisted?.() ?? false]);
  ui.storageUsage.textContent = usage.persistent
    ? `${mb(usage.cachedBytes)} of models cached` + (usage.usage !== undefined && usage.quota !== undefined ? ` · site uses ${mb(usage.usage)} of ${mb(usage.quota)} allowed` : '')
    : `Not caching: ${usage.reason}`;
  ui.persistStatus.textContent = persisted ? 'Persistent storage' : 'Not persistent: may be evicted';
  ui.cachedModels.replaceChildren(
    ...models.map((m) => {
      const row = document.createElement('tr');
      for (const text of [m.id, m.revision, mb(m.bytes + m.partialBytes) + (m.partialBytes ? ' (partial)' : ''), new Date(m.lastUsed).toLocaleString()]) {
        row.insertCell().textContent = text;
      }
      const remove = document.createElement('button');
      remove.textContent = 'Delete';
      remove.setAttribute('aria-label', `Delete ${m.id} ${m.revision}`);
      remove.addEventListener('click', () => void client.deleteCachedModel(m.key).then(renderStorage, showError));
      row.insertCell().append(remove);
      return row;
    }),
  );
}

ui.persist.addEventListener('click', () => void client.requestPersistentStorage().then(renderStorage, showError));
ui.clearCache.addEventListener('click', () => void client.clearCache().then(renderStorage, showError));

ui.load.addEventListener('click', () => void ensureLoaded().catch(showError));

ui.generate.addEventListener('click', async () => {
  ui.error.hidden = true;
  ui.generate.disabled = true;
  try {
    const handle = await ensureLoaded();
    running = new AbortController();
    ui.stop.disabled = false;
    ui.output.textContent = ui.prompt.value;
    const stream = handle.stream(ui.prompt.value, {
      maxNewTokens: Number(ui.maxTokens.value),
      temperature: Number(ui.temperature.value),
      seed: Number(ui.seed.value),
      signal: running.signal,
    });
    for await (const chunk of stream) ui.output.textContent += chunk;
    const { stats } = await stream.result;
    ui.metrics.textContent =
      `${describe(handle.info)} · TTFT ${stats.timeToFirstTokenMs.toFixed(0)} ms · ` +
      `prefill ${stats.prefillTokensPerSecond.toFixed(0)} tok/s · decode ${stats.decodeTokensPerSecond.toFixed(1)} tok/s · ` +
      `${stats.promptTokens} in / ${stats.generatedTokens} out`;
  } catch (err) {
    if (!(err instanceof SlmError && err.code === 'aborted')) showError(err);
  } finally {
    running = null;
    ui.stop.disabled = true;
    ui.generate.disabled = false;
  }
});

ui.stop.addEventListener('click', () => running?.abort());

void renderStorage();
setupTaskPanels(client, ensureLoaded, showError);
// Ready: the client exists and every handler is attached.
ui.load.disabled = false;
ui.generate.disabled = false;
