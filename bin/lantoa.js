#!/usr/bin/env node
'use strict';
// `lantoa` bin: the compiled CLI (dist/src/cli/main.js), built first when dist/ is missing or stale.
// It runs in this process: nothing here needs tsx or the TypeScript sources at run time.
const status = require('./build').ensureBuilt();
if (status !== 0) process.exit(status);
require('../dist/src/cli/main.js');
