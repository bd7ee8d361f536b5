/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testTimeout: 60000,
  // One test file at a time (`--maxWorkers=1` in npm test), each in a fresh worker process: a file's
  // stacks, timers and sockets can never slow down or disturb the next one (they share the 2 cores).
  workerIdleMemoryLimit: '1MB',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
};
