#!/usr/bin/env node
'use strict';
// Runs before `npm start`, `start:api`, `start:worker` and `sim` (their npm pre-scripts): builds dist/
// only when it is missing or older than the sources, and is a quick no-op otherwise.
const status = require('./build').ensureBuilt();
if (status !== 0) process.exit(status);
