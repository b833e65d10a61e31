/** The demo page: a client of the public API, exactly as an embedder would write it. */
import { SlmClient, type CachedModel, type DeviceRequest, type Dtype, type DtypeRequest, type ModelHandle, type ModelInfo } from '../src/index.ts';
import { loadCatalog, type CatalogModel } from './catalog.ts';
import { setupGeneratePanel } from './generate.ts';
import { ModelSlot, type ModelChoice } from './model-slot.ts';
import { mb, Panel } from './panel.ts';
import { setupStoragePanel } from './storage.ts';
import { setupTaskPanels } from './tasks.ts';
import { setupTeachPanel } from './teach.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const ui = {
  model: $<HTMLSelectElement>('model'),
  dtype: $<HTMLSelectElement>('dtype'),
  device: $<HTMLSelectElement>('device'),
  load: $<HTMLButtonElement>('load'),
  about: $('model-about'),
  cache: $('cache-state'),
  progress: $<HTMLProgressElement>('progress'),
  status: $('progress-text'),
};

// After the first visit the built demo reloads offline: sw.js (see src/vite/offline-shell.ts) keeps
// the app shell, the IndexedDB cache keeps the models.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  void navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { scope: './' });
}

const client = await SlmClient.inWorker();
const modelPanel = Panel.byHeading('model-heading');

const DEFAULT_MODEL = 'smollm2-135m-instruct';
// The picker loads a model to generate with; encoder-only models embed but do not generate.
const catalog = (await loadCatalog(new URL(document.baseURI), () => client.cachedModels())).filter((m) => m.kind !== 'encoder');
const dtypeNames = new Map([...ui.dtype.options].map((o) => [o.value, o.text]));
const selectedModel = (): CatalogModel | undefined => catalog.find((m) => m.id === ui.model.value);
const sizeRange = (m: CatalogModel): string => {
  const sizes = Object.values(m.weightBytes);
  return sizes.length ? `${mb(Math.min(...sizes))}–${mb(Math.max(...sizes))}` : 'size unknown';
};
for (const m of catalog) ui.model.add(new Option(`${m.id} · text generator · ${sizeRange(m)}`, m.id));
// A real instruct model by default; stories260k (tiny, children's stories) stays a choice.
if (catalog.some((m) => m.id === DEFAULT_MODEL)) ui.model.value = DEFAULT_MODEL;
const params = new URLSearchParams(location.search);
for (const [key, select] of [['model', ui.model], ['dtype', ui.dtype], ['device', ui.device]] as const) {
  const value = params.get(key);
  if (value) select.value = value;
}

let cachedModels: CachedModel[] = [];
/** What the picker's choice is, how big its weights are, and whether this browser already has them. */
function describeChoice(): void {
  const m = selectedModel();
  ui.about.textContent = m?.about ?? '';
  const known = m && Object.keys(m.weightBytes).length > 0;
  for (const option of ui.dtype.options) {
    if (option.value === 'auto') continue; // it picks q4 or q4f16 when loading
    const bytes = m?.weightBytes[option.value as Dtype];
    option.text = `${dtypeNames.get(option.value)}${bytes === undefined ? '' : ` · ${mb(bytes)}`}`;
    option.disabled = Boolean(known) && bytes === undefined;
  }
  // 'auto' loads offline only if whichever of its dtypes it picks is cached.
  const dtypes = ui.dtype.value === 'auto' ? (['q4', 'q4f16'] as const).filter((d) => !known || m?.weightBytes[d] !== undefined) : [ui.dtype.value as Dtype];
  const cached = cachedModels.some((c) => c.id === ui.model.value && dtypes.every((d) => c.dtypes.includes(d)));
  const bytes = m?.weightBytes[ui.dtype.value as Dtype];
  ui.cache.textContent = cached ? 'cached — loads offline' : `not cached — downloads ${bytes === undefined ? 'its weights' : mb(bytes)} on first load`;
  ui.cache.classList.toggle('cached', cached);
}
ui.model.addEventListener('change', describeChoice);
ui.dtype.addEventListener('change', describeChoice);

const refreshStorage = setupStoragePanel(client, (models) => {
  cachedModels = models;
  describeChoice();
});

const choice = (): ModelChoice => ({ model: ui.model.value, dtype: ui.dtype.value as DtypeRequest, device: ui.device.value as DeviceRequest });
const describeLoaded = (info: ModelInfo): string =>
  `${info.model} · ${info.backend.toUpperCase()} · ${info.dtype} · ${info.threads} thread${info.threads === 1 ? '' : 's'} · load ${info.load.totalMs.toFixed(0)} ms`;
const describeChoiceShort = (c: ModelChoice): string => `${c.model} · ${c.dtype} · ${c.device === 'auto' ? 'auto backend' : c.device}`;

const slot = new ModelSlot(client, {
  loading(c) {
    modelPanel.clearError();
    ui.load.disabled = true;
    ui.progress.value = 0;
    ui.status.textContent = `Loading ${describeChoiceShort(c)}…`;
    ui.status.title = '';
  },
  progress(e) {
    if (e.phase === 'fetch') {
      const total = e.totalBytes;
      if (total) ui.progress.value = e.totalLoaded / total;
      else ui.progress.removeAttribute('value'); // size unknown: an indeterminate bar
      ui.status.textContent = `Downloading ${e.file} · ${mb(e.totalLoaded)}${total ? ` of ${mb(total)}` : ''}`;
    } else if (e.phase !== 'ready') {
      // Session creation and the first run report no fraction: the bar shows work without a false end.
      ui.progress.removeAttribute('value');
      ui.status.textContent = e.phase === 'compile' ? 'Creating session…' : 'Checking backend…';
    }
  },
  loaded(handle, c) {
    ui.load.disabled = false;
    ui.progress.value = 1;
    // With 'auto' weights, what they became and why (e.g. q4: the adapter lacks shader-f16).
    ui.status.textContent = `Ready · ${describeLoaded(handle.info)}${c.dtype === 'auto' ? ` · ${handle.info.dtypeReason}` : ''}`;
    ui.status.title = handle.info.backendReason;
    void refreshStorage();
  },
  failed(err, c, current) {
    ui.load.disabled = false;
    ui.progress.value = current ? 1 : 0;
    modelPanel.showError(err);
    ui.status.textContent = `Could not load ${describeChoiceShort(c)}. ` + (current ? `Still loaded: ${describeLoaded(current.handle.info)}` : 'No model is loaded.');
    if (current) {
      // The picker shows what is loaded, so the next action uses the model that works.
      ui.model.value = current.choice.model;
      ui.dtype.value = current.choice.dtype;
      ui.device.value = current.choice.device;
      describeChoice();
    }
  },
});

/** The model the panels act on: the picker's choice, loaded (or being loaded) once. */
async function model(): Promise<ModelHandle> {
  const c = choice();
  try {
    return await slot.use(c);
  } catch (err) {
    throw new Error(`Not run: ${c.model} did not load (${err instanceof Error ? err.name : 'error'}); see the Model panel.`, { cause: err });
  }
}

ui.load.addEventListener('click', () =>
  void modelPanel.run(null, async () => {
    await slot.use(choice());
  }),
);
describeChoice();
void refreshStorage();
setupGeneratePanel(model);
setupTaskPanels(client, model);
setupTeachPanel(client, model);
// Ready: the client exists and every handler is attached.
ui.load.disabled = false;
