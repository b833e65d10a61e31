import { defineConfig } from 'vite';
import { offlineShell } from './src/vite/offline-shell.ts';
import { slmRuntime } from './src/vite/plugin.ts';

// The demo runs under a strict CSP: no eval, scripts and workers only from this origin.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' https:";

// `--mode harness` builds the demo plus the test harness and benchmark pages into dist-harness/, and its preview
// server gets a controllable model file server (tests only).
export default defineConfig(async ({ mode }) => ({
  plugins: [
    slmRuntime({ headers: { 'Content-Security-Policy': CSP } }),
    offlineShell({ exclude: /^(tests|bench)\// }),
    ...(mode === 'harness' ? [(await import('./tests/browser/support/test-server.ts')).testServer('public/models')] : []),
  ],
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    outDir: mode === 'harness' ? 'dist-harness' : 'dist',
    // The harness's server serves /models/ from public/models itself: copying gigabytes of models per run is waste.
    copyPublicDir: mode !== 'harness',
    rolldownOptions: {
      // Timing notices depend on how busy the machine is, not on the build: they are not warnings about it.
      checks: { bundlerTimings: false },
      input: { main: 'index.html', ...(mode === 'harness' && { harness: 'tests/browser/harness/index.html', bench: 'bench/page/index.html' }) },
    },
  },
}));
