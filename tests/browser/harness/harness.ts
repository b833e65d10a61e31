// Built only for tests (vite build --mode harness): the public API, exactly as an embedder imports it.
import * as slm from '../../../src/index.ts';

declare global {
  interface Window {
    slm: typeof slm;
  }
}
window.slm = slm;
document.body.dataset.ready = 'true';
