import { stableHash32 } from '../../stable-hash.js';

/** One schedule the scheduler wants to exist: a job of `queue` with `data`, every `every` ms. */
export interface DesiredSchedule {
  readonly id: string;
  /** The queue's name: the job's own, or a host's (`bot-sync-<host>`). */
  readonly queue: string;
  readonly name: string;
  readonly every: number;
  /** Where in the interval this schedule fires, so 10,000 bots do not all start at once. */
  readonly offset: number;
  readonly data: Record<string, unknown>;
}

/** Schedule ids say what they schedule: `bot-sync:bot-0007`. */
function scheduleId(queue: string, subject: string): string {
  return `${queue}:${subject}`;
}

/** A stable offset within the interval, from the schedule id. */
function stableOffset(id: string, every: number): number {
  return stableHash32(id) % every;
}

/** A schedule of one bot: a job of `queue` titled `title` every `every` ms, with `data` (default `{ bot }`). */
export interface PerBotScheduleSpec {
  readonly queue: string;
  readonly bot: string;
  readonly every: number;
  readonly title: string;
  readonly data?: Record<string, unknown>;
}

export function perBotSchedule(spec: PerBotScheduleSpec): DesiredSchedule {
  const id = scheduleId(spec.queue, spec.bot);
  const { queue, every } = spec;
  return { id, queue, name: spec.title, every, offset: stableOffset(id, every), data: dataOf(spec) };
}

function dataOf(spec: PerBotScheduleSpec): Record<string, unknown> {
  return spec.data ?? { bot: spec.bot };
}

function sameData(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/**
 * Per-bot schedules kept from one pass to the next: an unchanged bot's schedule is the object of
 * the last pass, not rebuilt (and its offset re-hashed) for each of 10,000 bots every pass, so a
 * pass leaves next to nothing for the old generation.
 */
export class PerBotSchedules {
  private previous = new Map<string, DesiredSchedule>();
  private current = new Map<string, DesiredSchedule>();

  get(spec: PerBotScheduleSpec): DesiredSchedule {
    const id = scheduleId(spec.queue, spec.bot);
    const known = this.current.get(id) ?? this.previous.get(id);
    const schedule =
      known !== undefined &&
      known.every === spec.every &&
      known.name === spec.title &&
      sameData(known.data, dataOf(spec))
        ? known
        : perBotSchedule(spec);
    this.current.set(id, schedule);
    return schedule;
  }

  /** Ends a pass: the schedules it did not ask for (bots gone) are forgotten. */
  endPass(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}
