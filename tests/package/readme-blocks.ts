/** Type-checks the README's ```ts blocks, each as its own module, against the package installed in an app. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import ts from 'typescript';

// What the snippets leave to the reader (an output element, a client, a loaded model, data), declared with the
// package's own types. A snippet that declares one of these itself shadows it.
const GLOBALS = `import type { ChatCompletionRequest, ModelHandle, SlmClient } from 'browser-slm';
declare global {
  const slm: SlmClient;
  const otherClient: SlmClient;
  const model: ModelHandle;
  const output: HTMLElement;
  const messages: ChatCompletionRequest['messages'];
  const examples: Parameters<ModelHandle['trainClassifier']>[0];
  /** The app's own function that a tool call asks for. */
  const getWeather: (args: unknown) => Promise<unknown>;
}
export {};
`;

export function readmeTsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** Writes the blocks into `dir` (inside the app, so 'browser-slm' resolves to its node_modules) and returns every type error. */
export function readmeTypeErrors(markdown: string, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'globals.d.ts'), GLOBALS);
  const files = readmeTsBlocks(markdown).map((code, i) => {
    const file = join(dir, `block-${i + 1}.ts`);
    writeFileSync(file, `${code}export {};\n`);
    return file;
  });
  if (files.length === 0) return ['README.md has no ```ts block'];
  const program = ts.createProgram([join(dir, 'globals.d.ts'), ...files], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: [],
  });
  // Our declaration files are checked too (no skipLibCheck); other packages' are theirs to keep.
  const ours = (file: string): boolean => file.startsWith(dir) || file.includes(`${sep}node_modules${sep}browser-slm${sep}`);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => !d.file || ours(d.file.fileName))
    .map((d) => {
      const where = d.file ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : '';
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}
