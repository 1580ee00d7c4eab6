/**
 * Characters that must never reach a terminal raw when they come from input (file names, log
 * excerpts, runIds, values from the database): C0 controls (NUL, BEL, BS, TAB, LF, CR, ESC, ...),
 * DEL, C1 controls (U+0080-U+009F; U+009B is an 8-bit CSI to some terminals), the bidirectional
 * overrides, embeddings, isolates and marks that reorder what is shown (a "Trojan Source" file name
 * can look like another), and the line and paragraph separators.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text made safe to print on a terminal, on one line: every character above is replaced by a
 * visible escape, `\xHH` below U+0100 and `\u{HHHH}` above (a NUL shows as `\x00`, ESC as `\x1b`,
 * a right-to-left override as `\u{202e}`). Everything else, backslashes included, is left as is,
 * so ordinary text, paths and JSON excerpts read unchanged.
 *
 * For text output only: JSON output escapes by itself, and Markdown/HTML have their own escaping.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
