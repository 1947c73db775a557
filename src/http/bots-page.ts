import express, { type Request, type Response, type Router } from 'express';
import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { isInstanceName } from '../bots/bot-instances.js';
import { acceptResetFromBoard, ResetAcceptanceRefused } from '../producers/reset-acceptance.js';
import { acceptResetSchema } from '../bots/reset-guard.js';
import { errorMessage } from '../errors.js';
import {
  BOT_SORTS,
  BOT_STATE_FILTERS,
  botsOverview,
  type BotOverview,
  type BotsPage,
  type BotsQuery,
} from '../monitoring/bots-overview.js';
import { queueNameFor } from '../queues/host-routing.js';
import type { Queues } from '../queues/queues.js';
import { boardRole, boardUser } from './basic-auth.js';
import { BOARD_PATH } from './board.js';

export const BOTS_PATH = '/bots';
const MAX_PER_PAGE = 500;

export interface BotsPageDeps {
  pg: PgPool;
  queues: Queues;
  config: Pick<Config, 'BOT_DISCOVERY' | 'DISCOVERY_INTERVAL' | 'SYNC_INTERVAL'>;
}

/** A query parameter the page cannot take: answered 400, naming it. */
class BadQuery extends Error {}

/**
 * /bots (HTML) and /bots.json: every bot, its state and lag, filtered, sorted and paged by the
 * same query parameters in PostgreSQL. POST /bots/<bot>/accept-reset: the admin accepts a held
 * reset (the viewer's POST is refused before it gets here, like every write of the viewer).
 */
export function botsRouter(deps: BotsPageDeps): Router {
  const router = express.Router();
  router.get(`${BOTS_PATH}.json`, async (req, res) => {
    const page = await readPage(deps, req, res);
    if (page) res.json(page);
  });
  router.get(BOTS_PATH, async (req, res) => {
    const page = await readPage(deps, req, res);
    if (!page) return;
    const notice = typeof req.query.accepted === 'string' ? req.query.accepted : undefined;
    res.type('html').send(renderPage(page, boardRole(res) === 'admin', notice));
  });
  router.post(
    `${BOTS_PATH}/:bot/accept-reset`,
    express.urlencoded({ extended: false, limit: '4kb' }),
    async (req, res) => {
      const bot = req.params.bot ?? '';
      const body = (req.body ?? {}) as Record<string, unknown>;
      const kept = acceptResetSchema.safeParse(body.kept);
      if (!isInstanceName(bot)) return refuse(res, 400, `"${bot}" is not a bot instance name`);
      if (!kept.success)
        return refuse(res, 400, `kept must be "archive" or "delete" (got ${JSON.stringify(body.kept)})`);
      try {
        const accepted = await acceptResetFromBoard(deps, {
          bot,
          kept: kept.data,
          confirmation: typeof body.confirmation === 'string' ? body.confirmation.trim() : '',
          acceptedBy: boardUser(res) ?? 'board (no login)',
        });
        const notice = `bot ${bot}: reset accepted (${accepted.kept}), job ${accepted.jobId} on ${accepted.queue}`;
        res.redirect(303, `${BOTS_PATH}?${new URLSearchParams({ text: bot, accepted: notice }).toString()}`);
      } catch (error) {
        if (error instanceof ResetAcceptanceRefused) return refuse(res, error.status, error.message);
        refuse(res, 500, `could not accept the reset of bot ${bot}: ${errorMessage(error)}`);
      }
    },
  );
  return router;
}

function refuse(res: Response, status: number, message: string): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.status(status).type('text/plain').send(message);
}

async function readPage(deps: BotsPageDeps, req: Request, res: Response): Promise<BotsPage | undefined> {
  let query: BotsQuery;
  try {
    query = parseQuery(req.query);
  } catch (error) {
    if (error instanceof BadQuery) {
      refuse(res, 400, error.message);
      return undefined;
    }
    throw error;
  }
  try {
    return await botsOverview(deps.pg, deps.config, query);
  } catch (error) {
    refuse(res, 500, `could not read the bots from PostgreSQL: ${errorMessage(error)}`);
    return undefined;
  }
}

function parseQuery(params: Request['query']): BotsQuery {
  const one = (name: string): string | undefined => {
    const value = params[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') throw new BadQuery(`query parameter ${name} is given more than once`);
    return value;
  };
  const choice = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
    const value = one(name);
    if (value === undefined) return undefined;
    const found = allowed.find((a) => a === value);
    if (found === undefined)
      throw new BadQuery(`query parameter ${name}="${value}" is not one of ${allowed.join(', ')}`);
    return found;
  };
  const positive = (name: string, fallback: number, max: number): number => {
    const value = one(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new BadQuery(`query parameter ${name}="${value}" is not a whole number from 1 to ${max}`);
    }
    return n;
  };
  const state = choice('state', BOT_STATE_FILTERS);
  const text = one('text');
  return {
    ...(state === undefined ? {} : { state }),
    ...(text === undefined ? {} : { text: text.slice(0, 200) }),
    sort: choice('sort', BOT_SORTS) ?? 'lag',
    descending: (choice('dir', ['asc', 'desc'] as const) ?? (one('sort') === undefined ? 'desc' : 'asc')) === 'desc',
    page: positive('page', 1, 1_000_000),
    perPage: positive('perPage', 50, MAX_PER_PAGE),
  };
}

/** Every value shown passes through here: bot names, errors and messages come from files and users. */
function esc(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function pageUrl(
  query: BotsQuery,
  change: Partial<Record<'state' | 'text' | 'sort' | 'dir' | 'page', string>>,
): string {
  const params = new URLSearchParams();
  const merged = {
    state: query.state,
    text: query.text,
    sort: query.sort,
    dir: query.descending ? 'desc' : 'asc',
    page: String(query.page),
    perPage: String(query.perPage),
    ...change,
  };
  for (const [key, value] of Object.entries(merged)) if (value !== undefined && value !== '') params.set(key, value);
  return `${BOTS_PATH}?${params.toString()}`;
}

function seconds(value: number | null): string {
  if (value === null) return '-';
  if (value < 120) return `${value}s`;
  if (value < 7200) return `${Math.round(value / 60)}m`;
  if (value < 172_800) return `${Math.round(value / 3600)}h`;
  return `${Math.round(value / 86_400)}d`;
}

const when = (at: Date | null): string => (at ? at.toISOString().replace('.000Z', 'Z') : 'never');

const COLUMNS: Array<[string, BotsQuery['sort'] | undefined]> = [
  ['bot', 'bot'],
  ['host', 'host'],
  ['state', 'state'],
  ['lag to PostgreSQL', 'lag'],
  ['lag to Turso', 'push-lag'],
  ['last sync', 'last-sync'],
  ['last push', undefined],
  ['rejects', undefined],
  ['epoch', 'epoch'],
  ['last error', undefined],
];

function renderPage(page: BotsPage, admin: boolean, notice: string | undefined): string {
  const { query, total } = page;
  const lastPage = Math.max(1, Math.ceil(total / query.perPage));
  const header = COLUMNS.map(([label, sort]) => {
    if (sort === undefined) return `<th>${esc(label)}</th>`;
    const active = query.sort === sort;
    const dir = active && !query.descending ? 'desc' : 'asc';
    const arrow = active ? (query.descending ? ' ▼' : ' ▲') : '';
    return `<th><a href="${esc(pageUrl(query, { sort, dir, page: '1' }))}">${esc(label)}${arrow}</a></th>`;
  }).join('');
  const rows = page.bots.map((bot) => renderBot(bot, admin)).join('\n');
  const states = ['', ...BOT_STATE_FILTERS]
    .map(
      (s) =>
        `<option value="${esc(s)}"${s === (query.state ?? '') ? ' selected' : ''}>${esc(s || 'any state')}</option>`,
    )
    .join('');
  const nav = [
    query.page > 1 ? `<a rel="prev" href="${esc(pageUrl(query, { page: String(query.page - 1) }))}">previous</a>` : '',
    `page ${query.page} of ${lastPage} (${total} bots)`,
    query.page < lastPage
      ? `<a rel="next" href="${esc(pageUrl(query, { page: String(query.page + 1) }))}">next</a>`
      : '',
  ].join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ctp-etl bots</title>
<style>
body{font-family:system-ui,sans-serif;margin:1rem;color:#222}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;vertical-align:top}th a{color:inherit}
.state-ok{color:#176b2c}.state-lagging,.state-missing{color:#9a6700}.held{color:#b42318;font-weight:600}
.notice{background:#e7f5ec;padding:.5rem;border:1px solid #8fd19e}details{margin-top:.3rem}pre{white-space:pre-wrap;max-width:60rem}
form.accept{margin-top:.3rem}.error{max-width:30rem;overflow-wrap:anywhere}
</style></head><body>
<h1>Bots</h1>
<p><a href="${BOARD_PATH}">Jobs (Bull Board)</a></p>
${notice ? `<p class="notice" role="status">${esc(notice)}</p>` : ''}
<form method="get" action="${BOTS_PATH}" class="filter">
<label>state <select name="state">${states}</select></label>
<label>text <input type="search" name="text" value="${esc(query.text ?? '')}" placeholder="bot, host or error"></label>
<input type="hidden" name="sort" value="${esc(query.sort)}"><input type="hidden" name="dir" value="${query.descending ? 'desc' : 'asc'}">
<input type="hidden" name="perPage" value="${query.perPage}">
<button type="submit">Filter</button>
</form>
<p class="pages">${nav}</p>
<table><thead><tr>${header}</tr></thead><tbody>
${rows || `<tr><td colspan="${COLUMNS.length}">no bots match</td></tr>`}
</tbody></table>
<p class="pages">${nav}</p>
</body></html>`;
}

function renderBot(bot: BotOverview, admin: boolean): string {
  const held = ['reset', 'bad-file', 'sync-config', 'conflict'].includes(bot.state);
  const queue = queueNameFor('bot-sync', bot.host ?? undefined);
  const jobs = `${BOARD_PATH}/queue/${encodeURIComponent(queue)}`;
  const sync = bot.lastSyncAt
    ? `${when(bot.lastSyncAt)}<br>${bot.lastSyncRowsWritten ?? 0} rows written, ${esc(bot.lastSyncMode ?? '')}`
    : 'never';
  const push = bot.lastPushAt
    ? `${when(bot.lastPushAt)}${bot.lastPushFullCompareAt ? `<br>every row compared ${when(bot.lastPushFullCompareAt)}` : ''}`
    : '-';
  let state = `<span class="${held ? 'held' : `state-${bot.state}`}">${held ? 'held: ' : ''}${esc(bot.state)}</span>`;
  if (held && bot.holdMessage) {
    state += `<details><summary>why${bot.state === 'reset' ? ' and the plan' : ''}</summary><pre>${esc(bot.holdMessage)}</pre></details>`;
  }
  if (admin && bot.state === 'reset') state += acceptForm(bot.bot);
  return `<tr data-bot="${esc(bot.bot)}" data-state="${esc(bot.state)}">
<td><a href="${esc(jobs)}" title="this bot's jobs are on queue ${esc(queue)}">${esc(bot.bot)}</a>${bot.missingSince ? `<br>missing since ${when(bot.missingSince)}` : ''}</td>
<td>${esc(bot.host ?? '-')}</td><td>${state}</td><td>${seconds(bot.lagSeconds)}</td><td>${seconds(bot.tursoLagSeconds)}</td>
<td>${sync}</td><td>${push}</td><td>${bot.rejects}</td><td>${bot.epoch}</td>
<td class="error">${bot.lastError ? `${when(bot.lastErrorAt)}<br>${esc(bot.lastError.slice(0, 300))}` : ''}</td></tr>`;
}

function acceptForm(bot: string): string {
  const action = `${BOTS_PATH}/${encodeURIComponent(bot)}/accept-reset`;
  return `<form class="accept" method="post" action="${esc(action)}">
<label>type <strong>${esc(bot)}</strong> to confirm <input name="confirmation" autocomplete="off" required></label>
<button type="submit" name="kept" value="archive">accept, archive</button>
<button type="submit" name="kept" value="delete">accept, delete</button>
</form>`;
}
