import { Terminal } from './terminal';

describe('Terminal progress on a TTY', () => {
  it('clips the redrawn bar to the terminal width, so it never wraps', () => {
    const chunks: string[] = [];
    const tty = { write: (s: string) => chunks.push(s) > 0, isTTY: true, columns: 40 } as unknown as NodeJS.WriteStream;
    const term = new Terminal(false, tty, tty, 0);
    term.progress('a-long-progress-label')({ done: 5, total: 1000, failed: 0, elapsedSeconds: 1, rate: 5, etaSeconds: 199 });
    // eslint-disable-next-line no-control-regex
    const visible = chunks.join('').replace(/\r|\x1b\[K/g, '');
    expect(visible.length).toBeLessThanOrEqual(39);
    expect(visible.startsWith('a-long-progress-label [')).toBe(true);
  });
});
