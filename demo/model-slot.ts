/**
 * The demo's one loaded model. Loads run one at a time: an action that needs the model while a load is
 * running waits for that load (and never starts a second one of the same choice). A new model replaces
 * the old one only once it has loaded: after a failed load the previous model is still loaded and used.
 */
import type { DeviceRequest, DtypeRequest, ModelHandle, ProgressEvent, SlmClient } from '../src/index.ts';

export interface ModelChoice {
  model: string;
  dtype: DtypeRequest;
  device: DeviceRequest;
}

export interface SlotView {
  loading(choice: ModelChoice): void;
  progress(event: ProgressEvent): void;
  loaded(handle: ModelHandle, choice: ModelChoice): void;
  failed(err: unknown, choice: ModelChoice, current: { handle: ModelHandle; choice: ModelChoice } | null): void;
}

const keyOf = (c: ModelChoice): string => `${c.model}|${c.dtype}|${c.device}`;

export class ModelSlot {
  private current: { handle: ModelHandle; choice: ModelChoice } | null = null;
  private pending: { key: string; done: Promise<ModelHandle> } | null = null;

  constructor(
    private readonly client: SlmClient,
    private readonly view: SlotView,
  ) {}

  /** The model for `choice`: the loaded one, the load of it in progress, or a new load after the one running. */
  use(choice: ModelChoice): Promise<ModelHandle> {
    const key = keyOf(choice);
    if (this.pending?.key === key) return this.pending.done;
    if (!this.pending && this.current && keyOf(this.current.choice) === key) return Promise.resolve(this.current.handle);
    const before = this.pending?.done.catch(() => null) ?? Promise.resolve(null);
    const done = before.then(() => (this.current && keyOf(this.current.choice) === key ? this.current.handle : this.load(choice)));
    const pending = { key, done };
    this.pending = pending;
    const settle = (): void => {
      if (this.pending === pending) this.pending = null;
    };
    done.then(settle, settle);
    return done;
  }

  private async load(choice: ModelChoice): Promise<ModelHandle> {
    this.view.loading(choice);
    // Progress events travel on their own channel and may trail the load's result: none count after it.
    let settled = false;
    let handle: ModelHandle;
    try {
      handle = await this.client.load(choice.model, {
        dtype: choice.dtype,
        device: choice.device,
        onProgress: (e) => {
          if (!settled) this.view.progress(e);
        },
      });
    } catch (err) {
      settled = true;
      this.view.failed(err, choice, this.current);
      throw err;
    }
    settled = true;
    const previous = this.current;
    this.current = { handle, choice };
    this.view.loaded(handle, choice);
    await previous?.handle.unload();
    return handle;
  }
}
