import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';

/** Prometheus text exposition of a registry; metrics read from Redis/PostgreSQL are collected now. */
export function metricsHandler(registry: Registry): RequestHandler {
  return async (_req, res) => {
    try {
      const text = await registry.metrics();
      res.setHeader('Content-Type', registry.contentType);
      res.send(text);
    } catch {
      res.status(500).type('text/plain').send('metrics unavailable');
    }
  };
}

/** The small HTTP app a worker process serves on WORKER_METRICS_PORT. */
export function createMetricsApp(registry: Registry): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler(registry));
  return app;
}
