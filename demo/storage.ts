/** The Storage panel: what the weight cache holds, asking to keep it, and deleting from it (after a confirmation). */
import type { CachedModel, SlmClient } from '../src/index.ts';
import { mb, Panel } from './panel.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Returns `refresh`: re-reads the cache, redraws the panel and hands the cached models to `onCached` (a failure shows in the panel). */
export function setupStoragePanel(client: SlmClient, onCached: (models: CachedModel[]) => void): () => Promise<void> {
  const panel = Panel.byHeading('storage-heading');
  const usageText = $('storage-usage');
  const persistStatus = $('persist-status');
  const persist = $<HTMLButtonElement>('persist');
  const clear = $<HTMLButtonElement>('clear-cache');
  const rows = $<HTMLTableSectionElement>('cached-models');

  const render = async (): Promise<void> => {
    const [models, usage] = await Promise.all([client.cachedModels(), client.storageUsage()]);
    usageText.textContent = usage.persistent
      ? `${mb(usage.cachedBytes)} of models cached` + (usage.usage !== undefined && usage.quota !== undefined ? ` · site uses ${mb(usage.usage)} of ${mb(usage.quota)} allowed` : '')
      : `Not caching: ${usage.reason}`;
    rows.replaceChildren(...models.map(row));
    onCached(models);
  };

  const row = (m: CachedModel): HTMLTableRowElement => {
    const tr = document.createElement('tr');
    const size = mb(m.bytes + m.partialBytes) + (m.partialBytes ? ' (partial)' : '');
    for (const text of [m.id, m.dtypes.join(', ') || '–', m.revision, size, new Date(m.lastUsed).toLocaleString()]) tr.insertCell().textContent = text;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete ${m.id} ${m.revision}`);
    remove.addEventListener('click', () =>
      void panel.run(remove, async () => {
        if (!confirm(`Delete ${m.id} (${size}) from this browser? It will be downloaded again when next loaded.`)) return;
        await client.deleteCachedModel(m.key);
        await render();
      }),
    );
    tr.insertCell().append(remove);
    return tr;
  };

  persist.addEventListener('click', () =>
    void panel.run(persist, async () => {
      const granted = await client.requestPersistentStorage();
      persistStatus.textContent = granted
        ? 'The browser granted persistent storage: models stay when space runs low.'
        : 'The browser declined: models may still be evicted when space runs low.';
    }),
  );
  clear.addEventListener('click', () =>
    void panel.run(clear, async () => {
      const models = await client.cachedModels();
      const bytes = models.reduce((n, m) => n + m.bytes + m.partialBytes, 0);
      if (!confirm(`Delete all ${models.length} cached model${models.length === 1 ? '' : 's'} (${mb(bytes)}) from this browser? They will be downloaded again when next loaded.`)) return;
      await client.clearCache();
      await render();
    }),
  );

  void navigator.storage?.persisted?.().then((p) => {
    persistStatus.textContent = p ? 'Persistent storage' : 'Not persistent: may be evicted when space runs low';
  });
  return () => render().catch((err: unknown) => panel.showError(err));
}
