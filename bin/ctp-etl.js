#!/usr/bin/env node
// In a checkout, runs the TypeScript sources through tsx (so `npx ctp-etl` works right after
// `npm ci` and never runs a stale build); in the container image, which holds no sources, runs
// the compiled CLI.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
