import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { Telemetry } from 'bullmq';

/**
 * OpenTelemetry traces: BullMQ's telemetry interface (bullmq-otel) on every queue and worker, so
 * a job's trace runs from its enqueue through the worker, and the pg instrumentation, so the
 * job's PostgreSQL queries are spans of that trace. On when OTEL_EXPORTER_OTLP_ENDPOINT is set;
 * otherwise none of it is loaded (the packages are imported only here, on demand).
 */
export interface Tracing {
  /** Flushes the spans not yet exported, then stops. */
  shutdown(): Promise<void>;
}

let telemetry: Telemetry | undefined;

/** BullMQ's telemetry for queues and workers, once tracing has started (undefined: off). */
export function bullmqTelemetry(): Telemetry | undefined {
  return telemetry;
}

/**
 * Starts tracing; call it before `pg` is first loaded (the instrumentation patches pg's client
 * as pg requires it). `exporter` replaces the OTLP exporter (the tests use an in-memory one,
 * exported span by span).
 */
export async function startTracing(options: { serviceName: string; exporter?: SpanExporter }): Promise<Tracing> {
  const [{ context, propagation, trace }, sdk, { AsyncLocalStorageContextManager }, core, resources, { BullMQOtel }] =
    await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
      import('bullmq-otel'),
    ]);
  const processor = options.exporter
    ? new sdk.SimpleSpanProcessor({ exporter: options.exporter })
    : new sdk.BatchSpanProcessor({
        exporter: new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(),
      });
  const provider = new sdk.TracerProvider({
    resource: resources.resourceFromAttributes({
      'service.name': process.env.OTEL_SERVICE_NAME ?? options.serviceName,
    }),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // BullMQ carries the producer's context to the worker in the job: W3C trace context.
  propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const [{ registerInstrumentations }, { PgInstrumentation }] = await Promise.all([
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-pg'),
  ]);
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [new PgInstrumentation({ requireParentSpan: true })],
  });
  telemetry = new BullMQOtel({ tracerName: 'ctp-etl' });
  return {
    async shutdown() {
      telemetry = undefined;
      unregister();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
