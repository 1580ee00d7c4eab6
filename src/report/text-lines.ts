import { printable } from './printable.js';

/**
 * The lines of a text summary for a terminal. `line` escapes the whole line with `printable`
 * (file names, runIds, keys and messages quoting a bad line come from the input), so a control
 * character never reaches the terminal raw; `block` takes laid-out text as it is (a table whose
 * cells were escaped with `printable` before layout).
 */
export class TextLines {
  private readonly parts: string[] = [];

  line(text: string): void {
    this.parts.push(printable(text));
  }

  block(text: string): void {
    this.parts.push(text);
  }

  toString(): string {
    return `${this.parts.join('\n')}\n`;
  }
}
