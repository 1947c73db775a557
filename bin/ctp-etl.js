#!/usr/bin/env node
// Runs the compiled CLI when it has been built (the container image), and the
// TypeScript sources through tsx otherwise, so `npx ctp-etl` works right after `npm ci`.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
