/** Child processes as a user's shell would run them, with their output. */
import { spawn } from 'node:child_process';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

// A child npm must not inherit the npm_* variables of the `npm test` running us (npm_config_local_prefix and the
// like would point it at this repository instead of the app); the user's own settings (cache, registry, proxy) stay.
// NODE_ENV goes too: Vitest sets "test", and the app's build must be the production build a user gets.
// CI stays: a user's CI has it (it turns on colours in Vite's output, which is why URLs are read without them).
const USER_NPM_SETTING = /^npm_config_(cache|registry|userconfig|proxy|https?_proxy|noproxy|cafile|strict_ssl)$/i;
export const CLEAN_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => (!/^npm_/i.test(k) || USER_NPM_SETTING.test(k)) && k !== 'NODE_ENV'),
);

/** The text without ANSI colour codes: picocolors colours Vite's output whenever `CI` is set, even into a pipe. */
export function plain(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

export function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: CLEAN_ENV });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function succeed(command: string, args: string[], cwd: string): Promise<Run> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}
