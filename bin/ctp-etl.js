#!/usr/bin/env node
// In a checkout, runs the TypeScript sources through tsx (so `npx ctp-etl` works right after
// `npm ci` and never runs a stale build); in the container image, which holds no sources, runs
// the compiled CLI.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const inCheckout = existsSync(sources);
if (inCheckout) {
  const { register } = await import('tsx/esm/api');
  register();
}
const module = (file) => new URL(inCheckout ? `../src/${file}.ts` : `../dist/${file}.js`, import.meta.url).href;
// Traces: started before the program loads pg, whose client the instrumentation patches as it loads.
if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
  const { startTracing } = await import(module('telemetry/tracing'));
  const tracing = await startTracing({ serviceName: `ctp-etl ${process.argv[2] ?? ''}`.trim() });
  process.once('beforeExit', () => void tracing.shutdown());
}
await import(module('cli/main'));
