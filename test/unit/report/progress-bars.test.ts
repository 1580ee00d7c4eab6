import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgressBars, type WorkTotals } from '../../../src/report/progress.js';

/** An output stream that says it is a 100-column terminal, recording what is written. */
function terminal(): { stream: NodeJS.WriteStream; text(): string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  Object.assign(stream, { isTTY: true, columns: 100, rows: 40 });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

const TOTALS: WorkTotals = {
  runs: { files: 2, bytes: 200 },
  approvals: { files: 0, bytes: 0 },
  artifacts: { files: 0, bytes: 0 },
  logs: { files: 1, bytes: 1000 },
};

const occurrences = (text: string, part: string): number => text.split(part).length - 1;

describe('progress bars and log lines on a terminal', () => {
  it('prints a line at once, exactly once, above bars it first clears, and redraws every bar below it', () => {
    const out = terminal();
    const bars = createProgressBars(out.stream);
    bars.log('before the bars');
    expect(out.text()).toBe('before the bars\n');

    bars.start(TOTALS);
    bars.fileDone('runs', 100);
    bars.records('logs', 10);
    const drawn = out.text().length;
    bars.log('a line while the bars are shown');
    const after = out.text().slice(drawn);
    expect(occurrences(after, 'a line while the bars are shown\n')).toBe(1);
    // The bars' rows are cleared (clear screen down) before the line, then both bars are drawn again below it.
    const lineAt = after.indexOf('a line while');
    expect(after.lastIndexOf('\u001b[0J', lineAt)).toBeGreaterThanOrEqual(0);
    expect(after.indexOf('run state', lineAt)).toBeGreaterThan(lineAt);
    expect(after.indexOf('logs     ', lineAt)).toBeGreaterThan(lineAt);

    bars.stop();
    const stopped = out.text().length;
    bars.stop(); // the use case and the CLI both stop it: the second is a no-op
    expect(out.text().length).toBe(stopped);
    expect(out.text()).toContain('\u001b[?25h'); // the cursor is given back
    bars.log('after the bars');
    expect(out.text().slice(stopped)).toBe('after the bars\n');
  });

  it('never cuts a long line at the terminal edge (it wraps), while the bars themselves are trimmed to the width', () => {
    const out = terminal();
    const bars = createProgressBars(out.stream);
    bars.start(TOTALS);
    bars.fileDone('logs', 500);
    const long = `file=${'x'.repeat(250)}`;
    bars.log(long);
    bars.stop();
    expect(out.text()).toContain(`${long}\n`);
    expect(out.text()).not.toContain('\u001b[?7l'); // autowrap is left on
    for (const row of out.text().split(/\n|\u001b\[[0-9;?]*[A-Za-z]/)) {
      if (row.startsWith('logs ') || row.startsWith('run state')) expect(row.length).toBeLessThanOrEqual(100);
    }
  });
});
