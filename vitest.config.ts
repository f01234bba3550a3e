import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'server',
          root: './server',
          include: ['test/**/*.test.ts'],
          testTimeout: 20_000,
          hookTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'testing',
          root: './testing',
          include: ['test/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'templates',
          root: './templates',
          include: ['test/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'create-nekoplugin',
          root: './create-nekoplugin',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        // Packs the packages and installs a generated project from the npm registry: slow and CPU-heavy,
        // so it runs after every other project (groupOrder) and does not slow their timing-sensitive tests.
        test: {
          name: 'create-nekoplugin-e2e',
          root: './create-nekoplugin',
          include: ['test/e2e.test.ts'],
          testTimeout: 240_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // `npm run test:reliability`: fuzzing, floods, faults, kill -9 and a soak against real servers. Heavy and
        // partly timing-sensitive, so its files run one at a time, after every other project.
        test: {
          name: 'reliability',
          root: './reliability',
          include: ['**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          name: 'plugins',
          root: './plugins',
          include: ['**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
    ],
  },
});
