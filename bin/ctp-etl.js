#!/usr/bin/env node
// In a checkout, runs the TypeScript sources through tsx (so `npx ctp-etl` works right after
// `npm ci` and never runs a stale build); in the container image, which holds no sources (and no
// tsx: it is a devDependency), runs the compiled CLI. A checkout installed without its
// devDependencies runs its build, when there is one.
import { existsSync } from 'node:fs';
import './v8-defaults.js';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/cli/main.js', import.meta.url);

async function loadTsx() {
  try {
    return await import('tsx/esm/api');
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

const tsx = existsSync(sources) ? await loadTsx() : undefined;
if (tsx) {
  tsx.register();
} else if (!existsSync(built)) {
  process.stderr.write(
    'ctp-etl: no compiled CLI (dist/) and no tsx to run the sources: run `npm install` (tsx is a devDependency) or `npm run build`\n',
  );
  process.exit(1);
}
const module = (file) => new URL(tsx ? `../src/${file}.ts` : `../dist/${file}.js`, import.meta.url).href;
// Traces: started before the program loads pg, whose client the instrumentation patches as it loads.
if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
  const { startTracing } = await import(module('telemetry/tracing'));
  const tracing = await startTracing({ serviceName: `ctp-etl ${process.argv[2] ?? ''}`.trim() });
  process.once('beforeExit', () => void tracing.shutdown());
}
await import(module('cli/main'));
