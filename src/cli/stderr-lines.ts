/** Something on screen that prints whole lines above itself (the progress bars). */
export interface LineOverlay {
  /** Prints one line (no trailing newline) above the overlay, on a line of its own. */
  log(line: string): void;
}

/**
 * Every line the tool writes to stderr (log records, the stop notice) goes through one of these,
 * so that nothing is written in the middle of the progress bars: without an overlay a line is
 * written as it is; while progress bars are on screen it is handed to them, and they print it
 * above themselves and redraw below it.
 */
export class StderrLines {
  private overlay: LineOverlay | undefined;

  constructor(readonly stream: NodeJS.WritableStream) {}

  /** True when stderr is a terminal (a person is watching). */
  get isTTY(): boolean {
    return (this.stream as NodeJS.WriteStream).isTTY === true;
  }

  attach(overlay: LineOverlay): void {
    this.overlay = overlay;
  }

  detach(overlay: LineOverlay): void {
    if (this.overlay === overlay) this.overlay = undefined;
  }

  /** Writes `text` as one line; a trailing newline is optional. */
  line(text: string): void {
    const line = text.endsWith('\n') ? text.slice(0, -1) : text;
    if (this.overlay) this.overlay.log(line);
    else this.stream.write(`${line}\n`);
  }
}
