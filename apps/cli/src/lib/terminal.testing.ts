import { Terminal } from './terminal';

/** For specs: a Terminal whose stdout and stderr are collected as text (not a TTY, progress lines every time). */
export function captureTerminal(json = false): { term: Terminal; stdout: () => string; stderr: () => string } {
  const sink = (): { stream: NodeJS.WriteStream; text: () => string } => {
    const chunks: string[] = [];
    const stream = { write: (s: string) => chunks.push(s) > 0, isTTY: false } as unknown as NodeJS.WriteStream;
    return { stream, text: () => chunks.join('') };
  };
  const out = sink();
  const err = sink();
  return { term: new Terminal(json, out.stream, err.stream, 0), stdout: out.text, stderr: err.text };
}
