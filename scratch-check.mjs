import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
const [app, ci] = process.argv.slice(2);
const env = { ...process.env }; delete env.CI; if (ci === '1') env.CI = 'true';
const child = spawn(process.execPath, ['node_modules/vite/bin/vite.js', 'preview', '--host', '127.0.0.1', '--port', '0'], { cwd: app, env });
let seen = '';
const url = await new Promise((res) => child.stdout.on('data', (d) => { seen += d; const u = /http:\/\/127\.0\.0\.1:\d+\//.exec(seen)?.[0]; if (u) res(u); }));
child.stderr.on('data', (d) => process.stdout.write('[preview stderr] ' + d));
console.log('url', url);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage();
page.on('console', (m) => console.log('[console]', m.text().slice(0, 200)));
page.on('requestfailed', (r) => console.log('[reqfail]', r.url()));
await page.goto(url);
await page.getByRole('button', { name: 'Generate' }).click();
try { await page.waitForSelector('output[data-state="done"], output[data-state="failed"]', { timeout: 60000 }); console.log('state', await page.getByLabel('Output').getAttribute('data-state')); }
catch (e) { console.log('TIMEOUT', await page.content().then(c=>c.slice(0,500))); }
console.log('seen', seen);
await browser.close(); child.kill();
