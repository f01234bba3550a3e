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
          name: 'plugins',
          root: './plugins',
          include: ['**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
    ],
  },
});
