#!/usr/bin/env node
// `lantoa` bin: runs the TypeScript CLI through tsx (a runtime dependency).
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const tsx = require.resolve('tsx/cli');
const r = spawnSync(process.execPath, [tsx, path.join(__dirname, '..', 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
