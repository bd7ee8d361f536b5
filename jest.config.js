/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testTimeout: 60000,
  // Two test files at a time (`--maxWorkers=2` in npm test: most files spend much of their time waiting on
  // timers, sockets and child processes, so two fill the 2 cores), each in a fresh worker process: a file's
  // stacks, timers and sockets can never slow down or disturb the next one. Every file has its own store
  // (a database of its own on PostgreSQL), queue prefix, ports and, where it kills servers, its own Redis or proxy.
  workerIdleMemoryLimit: '1MB',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
};
