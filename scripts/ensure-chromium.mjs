#!/usr/bin/env node
// Browser tests drive Debian's Chromium (never a downloaded browser). Install it when we can, else say how.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);

const isRoot = process.getuid?.() === 0;
const hasApt = existsSync('/usr/bin/apt-get');
if (isRoot && hasApt) {
  console.log(`ensure-chromium: ${path} is missing; installing Debian's chromium with apt-get`);
  execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium', { stdio: 'inherit' });
  if (existsSync(path)) process.exit(0);
}
console.error(
  `ensure-chromium: no Chromium at ${path}.\n` +
    (hasApt
      ? '  Install it with:  sudo apt-get update && sudo apt-get install -y chromium\n'
      : '  Install Chromium with your package manager, then point CHROMIUM_PATH at its binary.\n') +
    '  (Or set CHROMIUM_PATH to an existing Chromium/Chrome binary.)',
);
process.exit(1);
