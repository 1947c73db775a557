/** Where progress goes: a terminal gets a redrawn bar, anything else plain lines. */
export interface ProgressOutput {
  isTTY?: boolean;
  write(text: string): unknown;
}

const BAR_WIDTH = 30;

/**
 * Prints job progress as it is reported: `42` (percent) or `{ done, total }`, or any other
 * object (printed as JSON). On a terminal one bar per job is redrawn in place; otherwise
 * (CI logs, pipes) a line is printed each time a job passes another tenth of its work.
 */
export class ProgressPrinter {
  private readonly lastStep = new Map<string, string>();
  private barShown = false;

  constructor(private readonly out: ProgressOutput) {}

  update(label: string, data: unknown): void {
    const { percent, detail } = describeProgress(data);
    if (this.out.isTTY) {
      if (percent === undefined) return this.line(`${label} ${detail}`);
      const filled = Math.round((percent / 100) * BAR_WIDTH);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
      this.out.write(`\r\x1b[2K${label} [${bar}] ${percent.toFixed(0).padStart(3)}%${detail ? ` ${detail}` : ''}`);
      this.barShown = true;
      return;
    }
    const step = percent === undefined ? detail : String(Math.floor(percent / 10));
    if (this.lastStep.get(label) === step) return;
    this.lastStep.set(label, step);
    this.line(
      `${label} progress ${percent === undefined ? detail : `${percent.toFixed(0)}%${detail ? ` (${detail})` : ''}`}`,
    );
  }

  /** A whole line (an outcome, a notice), ending any bar being drawn. */
  line(text: string): void {
    this.endBar();
    this.out.write(`${text}\n`);
  }

  /** Moves past a bar being drawn, so other output starts on a line of its own. */
  endBar(): void {
    if (this.barShown) this.out.write('\n');
    this.barShown = false;
  }
}

export function describeProgress(data: unknown): { percent?: number; detail: string } {
  if (typeof data === 'number' && Number.isFinite(data)) return { percent: clamp(data), detail: '' };
  if (typeof data === 'object' && data !== null) {
    const { done, total } = data as { done?: unknown; total?: unknown };
    if (typeof done === 'number' && typeof total === 'number' && total > 0) {
      return { percent: clamp((done / total) * 100), detail: `${done}/${total}` };
    }
  }
  return { detail: JSON.stringify(data) };
}

function clamp(percent: number): number {
  return Math.min(100, Math.max(0, percent));
}
