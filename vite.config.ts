import { defineConfig } from 'vite';
import { slmRuntime } from './src/vite/plugin.ts';

// The demo runs under a strict CSP: no eval, scripts and workers only from this origin.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' https:";

export default defineConfig({
  plugins: [slmRuntime({ headers: { 'Content-Security-Policy': CSP } })],
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
