/**
 * One FreqTrade trade with its orders, custom data and pair lock, as a running bot writes them:
 * values drawn from a seed (the same trade for the same seed and id, whatever the batch), under
 * every column name any FreqTrade version used (the table's own columns are picked when the
 * rows are inserted). Numbers are what FreqTrade stores: rates and amounts on the exchange's
 * precision, profits rounded to 8 decimals, naive UTC dates with microseconds.
 */
export type Cell = string | number | null;
export type Row = Record<string, Cell>;

/** mulberry32: small, fast, and the same sequence on every machine. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FreqTrade's naive UTC text (`2025-06-07 23:24:56.735996`) of microseconds since the epoch. */
export function naiveUtc(us: number): string {
  const seconds = Math.floor(us / 1e6);
  const micros = us - seconds * 1e6;
  return `${new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${String(micros).padStart(6, '0')}`;
}

/** Microseconds since the epoch of FreqTrade's naive UTC text (a JS Date keeps milliseconds only). */
export function naiveUtcMicros(text: string): number {
  const [seconds = '', fraction = ''] = text.split('.');
  return Date.parse(`${seconds.replace(' ', 'T')}Z`) * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

/** The exchange's id of the order in row `rowId`: unique within a bot, as (ft_pair, order_id) must be. */
export const exchangeOrderId = (rowId: number, seed: number): string => String(8_000_000_000 + rowId * 7 + (seed % 7));

/** An exchange's timestamps have milliseconds only (`23:24:56.508000`). */
const exchangeTime = (us: number): string => naiveUtc(Math.floor(us / 1000) * 1000);

/** pair base, price around, price step, amount step: BABYDOGE and LADYS trade in amounts above 10^10. */
const MARKETS: ReadonlyArray<readonly [string, number, number, number]> = [
  ['BTC', 64_000, 0.01, 0.00001],
  ['ETH', 3_100, 0.01, 0.0001],
  ['SOL', 145, 0.01, 0.001],
  ['XRP', 0.52, 0.0001, 0.1],
  ['DOGE', 0.12, 0.00001, 1],
  ['PEPE', 0.0000112, 1e-10, 1],
  ['BABYDOGE', 1.6e-9, 1e-13, 1],
  ['LADYS', 1.2e-7, 1e-11, 1],
];
const LEVERAGES = [1, 2, 3, 5, 10, 20, 25, 50];
const TAGS = ['ema_cross', 'rsi_dip', 'breakout', null];

const decimalsOf = (step: number): number => Math.max(0, Math.round(-Math.log10(step)));
const onStep = (x: number, step: number): number => Number((Math.round(x / step) * step).toFixed(decimalsOf(step)));
const round8 = (x: number): number => Number(x.toFixed(8));

export interface PlanInput {
  id: number;
  seed: number;
  openedUs: number;
  open: boolean;
  futures: boolean;
  /** sell_reason / force_sell (before FreqTrade 2022.4) instead of exit_reason / force_exit. */
  legacyNames: boolean;
  /** Row id of the trade's first order. */
  firstOrderId: number;
  /** A fixed number of orders per trade (an entry, then exits) instead of the realistic mix. */
  ordersPerTrade?: number;
  /** Close at this time instead of after a drawn duration. */
  closedUs?: number;
  /**
   * The moment the rows are written: every date of the plan falls at or before it (a pair lock's
   * end aside, which FreqTrade sets ahead), as a bot writes only what has happened. A plan that
   * would run past it happens earlier: the whole trade, or only its close when the close is given;
   * a close that cannot move that far within the trade's life (it opened moments ago) is a quick
   * one, just before this moment, its orders filled within QUICK_FILL_US.
   */
  notAfterUs?: number;
  timeframe: number;
  strategy: string;
  exchange: string;
}

export interface TradePlan {
  trade: Row;
  /** The entry orders first (`entryOrders` of them), then exits and stoplosses. */
  orders: Row[];
  entryOrders: number;
  customData: Array<Omit<Row, 'id'>>;
  lock: Omit<Row, 'id'> | null;
}

/** An order fills this long after it is placed, and up to `fillSpreadUs` (drawn) later. */
const ORDER_FILL_AFTER_US = 200_000;
const ORDER_FILL_SPREAD_US = 30_000_000;

/** How long an order of a quick close takes to fill at most (the usual: up to 30.2 s). */
const QUICK_FILL_US = 400_000;
/** A quick close is this far before the moment of writing: its pair lock is stamped 47 ms after it. */
const QUICK_CLOSE_BEFORE_US = 50_000;

export function planTrade(input: PlanInput): TradePlan {
  const plan = drawTrade(input);
  const notAfterUs = input.notAfterUs;
  if (notAfterUs === undefined || latestDateUs(plan) <= notAfterUs) return plan;
  // The same draws (the seed is the trade's), dated earlier by whole milliseconds, so the
  // exchange's millisecond dates move exactly as far as the others. A given close moves twice
  // as far: a partial exit, halfway between open and close, moves half as far as the close.
  const earlierUs = Math.ceil((latestDateUs(plan) - notAfterUs) / 1000) * 1000;
  const refuse = (): Error =>
    new Error(
      `generator: trade ${input.id}, opened ${naiveUtc(input.openedUs)}, cannot have closed by ${naiveUtc(notAfterUs)}`,
    );
  if (input.closedUs === undefined) {
    const earlier = drawTrade({ ...input, openedUs: input.openedUs - earlierUs });
    if (latestDateUs(earlier) > notAfterUs) throw refuse();
    return earlier;
  }
  const movedUs = input.closedUs - 2 * earlierUs;
  if (movedUs >= input.openedUs) {
    const earlier = drawTrade({ ...input, closedUs: movedUs });
    if (latestDateUs(earlier) <= notAfterUs) return earlier;
  }
  // The close cannot move that far within the trade's life (it opened moments ago, or its entry
  // filled late): the same draws, closed just before the moment of writing, every order filled
  // within QUICK_FILL_US of being placed.
  const closedUs = Math.min(input.closedUs, notAfterUs) - QUICK_CLOSE_BEFORE_US;
  const quick = drawTrade({ ...input, closedUs }, QUICK_FILL_US - ORDER_FILL_AFTER_US);
  if (closedUs < input.openedUs || latestDateUs(quick) > notAfterUs) throw refuse();
  return quick;
}

const NAIVE_UTC = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;

/** The latest date of a plan's rows, a pair lock's end (ahead by design) aside. */
function latestDateUs(plan: TradePlan): number {
  let latest = -Infinity;
  for (const row of [plan.trade, ...plan.orders, ...plan.customData, ...(plan.lock ? [plan.lock] : [])])
    for (const [column, value] of Object.entries(row))
      if (column !== 'lock_end_time' && typeof value === 'string' && NAIVE_UTC.test(value))
        latest = Math.max(latest, naiveUtcMicros(value));
  return latest;
}

function drawTrade(input: PlanInput, fillSpreadUs = ORDER_FILL_SPREAD_US): TradePlan {
  const r = random(Math.imul(input.seed, 1_000_003) + input.id);
  const [base, around, priceStep, amountStep] = MARKETS[Math.floor(r() * MARKETS.length)]!;
  const pair = input.futures ? `${base}/USDT:USDT` : `${base}/USDT`;
  const rate = Math.max(priceStep, onStep(around * (0.7 + 0.6 * r()), priceStep));
  const leverage = input.futures ? LEVERAGES[Math.floor(r() * LEVERAGES.length)]! : 1;
  const short = input.futures && r() < 0.4;
  const wanted = 10 + Math.floor(r() * 990);
  const amountRequested = (wanted * leverage) / rate;
  const amount = Math.max(amountStep, onStep(amountRequested, amountStep));
  const stake = (amount * rate) / leverage;
  const feeOpen = input.futures ? 0.0002 : 0.001;
  const feeClose = input.futures ? 0.0005 : 0.001;
  const openValue = amount * rate * (short ? 1 - feeOpen : 1 + feeOpen);
  const stopDistance = 0.1 / leverage;
  const initialStop = onStep(rate * (short ? 1 + stopDistance : 1 - stopDistance), priceStep);
  const liquidation = input.futures
    ? onStep(rate * (short ? 1 + 1 / leverage - 0.005 : 1 - 1 / leverage + 0.005), priceStep)
    : null;
  const tag = TAGS[Math.floor(r() * TAGS.length)]!;
  const entrySide = short ? 'sell' : 'buy';
  const exitSide = short ? 'buy' : 'sell';
  const at = (fraction: number): number => (short ? rate * (1 - fraction) : rate * (1 + fraction));
  const profitOf = (part: number, exitRate: number): number =>
    short
      ? part * rate * (1 - feeOpen) - part * exitRate * (1 + feeClose)
      : part * exitRate * (1 - feeClose) - part * rate * (1 + feeOpen);

  let orderId = input.firstOrderId;
  const orders: Row[] = [];
  const order = (o: {
    side: 'entry' | 'exit' | 'stoploss';
    status: 'open' | 'closed' | 'canceled';
    amount: number;
    price: number;
    placedUs: number;
    type?: string;
  }): Row => {
    const filled = o.status === 'closed' ? o.amount : 0;
    const side = o.side === 'entry' ? entrySide : exitSide;
    const filledUs = o.placedUs + ORDER_FILL_AFTER_US + Math.floor(r() * fillSpreadUs);
    const row: Row = {
      id: orderId,
      ft_trade_id: input.id,
      ft_order_side: o.side === 'stoploss' ? 'stoploss' : side,
      ft_pair: pair,
      ft_is_open: o.status === 'open' ? 1 : 0,
      ft_amount: o.side === 'entry' ? amountRequested : o.amount,
      ft_price: o.price,
      ft_cancel_reason: o.status === 'canceled' ? 'cancelled due to timeout' : null,
      order_id: exchangeOrderId(orderId, input.seed),
      status: o.status,
      symbol: pair,
      order_type: o.type ?? 'limit',
      side,
      price: o.price,
      average: o.status === 'closed' ? o.price : null,
      amount: o.amount,
      filled,
      remaining: o.amount - filled,
      cost: filled * o.price,
      stop_price: o.side === 'stoploss' ? o.price : null,
      order_date: exchangeTime(o.placedUs),
      order_filled_date: o.status === 'closed' ? exchangeTime(filledUs) : null,
      order_update_date: naiveUtc(o.status === 'open' ? o.placedUs + 1_500_000 : filledUs + 700),
      funding_fee: input.futures && o.side !== 'entry' ? 0 : null,
      ft_fee_base: null,
      ft_order_tag: o.side === 'entry' ? tag : o.side === 'exit' ? 'exit_signal' : null,
    };
    orderId += 1;
    orders.push(row);
    return row;
  };

  const opened = input.openedUs;
  if (input.ordersPerTrade === undefined && r() < 0.1)
    order({ side: 'entry', status: 'canceled', amount, price: rate, placedUs: opened - 120_000_000 });
  order({ side: 'entry', status: 'closed', amount, price: rate, placedUs: opened - 300_000 });

  const entryOrders = orders.length;
  const minutes = 5 + Math.floor(r() ** 3 * 2880);
  const closed = input.closedUs ?? opened + minutes * 60_000_000 + Math.floor(r() * 1e6);
  const hours = (closed - opened) / 3.6e9;
  const fundingFees = input.futures ? round8((r() - 0.6) * stake * leverage * 0.0001 * Math.ceil(hours / 8)) : 0;
  const pick = r();
  const reason = input.open
    ? null
    : input.futures && leverage >= 10 && pick < 0.01
      ? 'liquidation'
      : pick < 0.3
        ? 'roi'
        : pick < 0.75
          ? input.legacyNames
            ? 'sell_signal'
            : 'exit_signal'
          : pick < 0.9
            ? 'stop_loss'
            : pick < 0.97
              ? 'trailing_stop_loss'
              : input.legacyNames
                ? 'force_sell'
                : 'force_exit';
  const move =
    reason === 'roi'
      ? 0.005 + r() * 0.035
      : reason === 'stop_loss'
        ? -stopDistance
        : reason === 'trailing_stop_loss'
          ? 0.001 + r() * 0.02
          : reason === 'liquidation'
            ? -1 / leverage + 0.005
            : (r() - 0.4) * 0.05;
  const closeRate = onStep(Math.max(priceStep, at(move)), priceStep);
  const partial = input.ordersPerTrade === undefined && r() < (input.open ? 0.1 : 0.2);
  const partialShare = onStep(amount * (0.3 + r() * 0.3), amountStep);
  const partialRate = onStep(Math.max(priceStep, at(move / 2)), priceStep);
  const partialAt = opened + Math.floor((closed - opened) / 2);
  let realized = 0;
  let remaining = amount;
  let openOrderId: string | null = null;
  let stoplossOrderId: string | null = null;

  if (input.ordersPerTrade !== undefined) {
    for (let k = 1; k < input.ordersPerTrade; k++)
      order({
        side: 'exit',
        status: input.open ? 'open' : 'closed',
        amount,
        price: input.open ? at(0.02) : closeRate,
        placedUs: input.open ? opened + k * 1_000_000 : closed - 500_000,
      });
  } else {
    if (partial && partialShare > 0 && partialShare < amount) {
      order({ side: 'exit', status: 'closed', amount: partialShare, price: partialRate, placedUs: partialAt });
      realized = profitOf(partialShare, partialRate);
      remaining = onStep(amount - partialShare, amountStep);
    }
    if (input.open) {
      if (r() < 0.3)
        openOrderId = String(
          order({
            side: 'exit',
            status: 'open',
            amount: remaining,
            price: onStep(at(0.02), priceStep),
            placedUs: opened + 60_000_000,
          }).order_id,
        );
      if (r() < 0.25)
        stoplossOrderId = String(
          order({
            side: 'stoploss',
            status: 'open',
            amount: remaining,
            price: initialStop,
            placedUs: opened + 2_000_000,
            type: input.futures ? 'stop' : 'stop_loss_limit',
          }).order_id,
        );
    } else {
      if (r() < 0.1)
        order({
          side: 'exit',
          status: 'canceled',
          amount: remaining,
          price: at(move * 1.5),
          placedUs: closed - 900_000_000,
        });
      const type = reason === 'stop_loss' || reason === 'liquidation' ? 'market' : 'limit';
      order({ side: 'exit', status: 'closed', amount: remaining, price: closeRate, placedUs: closed - 400_000, type });
      realized += profitOf(remaining, closeRate);
    }
  }
  const profitAbs = input.open ? null : round8(realized + fundingFees);
  const trailingStop = reason === 'trailing_stop_loss' ? onStep(closeRate, priceStep) : initialStop;
  const rates = [rate, input.open ? at(0.01) : closeRate];
  const stakeCurrency = 'USDT';
  const trade: Row = {
    id: input.id,
    exchange: input.exchange,
    pair,
    base_currency: base,
    stake_currency: stakeCurrency,
    is_open: input.open ? 1 : 0,
    fee_open: feeOpen,
    fee_open_cost: amount * rate * feeOpen,
    fee_open_currency: stakeCurrency,
    fee_close: feeClose,
    fee_close_cost: input.open ? null : amount * closeRate * feeClose,
    fee_close_currency: input.open ? null : stakeCurrency,
    open_rate: rate,
    open_rate_requested: rate,
    open_trade_value: openValue,
    open_trade_price: openValue,
    close_rate: input.open ? null : closeRate,
    close_rate_requested: input.open ? null : closeRate,
    realized_profit: input.open ? round8(realized) : profitAbs,
    close_profit: profitAbs === null ? null : profitAbs / (openValue / leverage),
    close_profit_abs: profitAbs,
    stake_amount: stake,
    max_stake_amount: stake,
    amount: input.open ? remaining : amount,
    amount_requested: amountRequested,
    open_date: naiveUtc(opened),
    close_date: input.open ? null : exchangeTime(closed),
    open_order_id: openOrderId,
    stop_loss: trailingStop,
    stop_loss_pct: -0.1,
    initial_stop_loss: initialStop,
    initial_stop_loss_pct: -0.1,
    is_stop_loss_trailing: reason === 'trailing_stop_loss' ? 1 : 0,
    stoploss_order_id: stoplossOrderId,
    stoploss_last_update: naiveUtc(opened + 10_000_000),
    max_rate: Math.max(...rates),
    min_rate: Math.min(...rates),
    exit_reason: reason,
    sell_reason: reason,
    exit_order_status: input.open ? null : 'closed',
    sell_order_status: input.open ? null : 'closed',
    strategy: input.strategy,
    enter_tag: tag,
    buy_tag: tag,
    timeframe: input.timeframe,
    ticker_interval: input.timeframe,
    trading_mode: input.futures ? 'FUTURES' : 'SPOT',
    amount_precision: amountStep,
    price_precision: priceStep,
    precision_mode: 4,
    precision_mode_price: 4,
    contract_size: 1.0,
    leverage,
    is_short: short ? 1 : 0,
    liquidation_price: liquidation,
    interest_rate: 0.0,
    funding_fees: fundingFees,
    funding_fee_running: 0.0,
    record_version: 2,
  };

  const customData: Array<Omit<Row, 'id'>> = [];
  if (r() < 0.25) {
    const row = (key: string, type: string, value: string): Omit<Row, 'id'> => ({
      ft_trade_id: input.id,
      cd_key: key,
      cd_type: type,
      cd_value: value,
      created_at: naiveUtc(opened + 1_000_000),
      updated_at: input.open ? null : naiveUtc(closed - 60_000_000),
    });
    customData.push(row('entry_type', 'str', tag ?? 'manual'));
    if (r() < 0.5) customData.push(row('dca_count', 'int', String(1 + Math.floor(r() * 3))));
    if (r() < 0.5) customData.push(row('atr', 'float', String(round8(rate * 0.02 * r()))));
  }
  const candle = input.timeframe * 60_000_000;
  const lock =
    !input.open && r() < 0.15
      ? {
          pair,
          side: short ? 'short' : 'long',
          reason: 'Auto lock',
          lock_time: naiveUtc(closed + 47_000),
          lock_end_time: naiveUtc((Math.floor(closed / candle) + 1) * candle),
          active: 1,
        }
      : null;
  return { trade, orders, entryOrders, customData, lock };
}
