import { userWithoutPassword, withPassword } from '../config/connection-string.js';
import { UsageError } from '../errors.js';
import type { CliIo } from './cli-io.js';

/** Passwords typed at the prompt, so every error text is scrubbed of them too (run-cli). */
export const promptedSecrets = new Set<string>();

/**
 * A connection string that names a user but no password (and whose mechanism needs one) gets the
 * password asked for, as mongoimport does: on a terminal (stdin and stderr are TTYs) with hidden
 * input; anywhere else that is a usage error, since nobody could answer.
 */
export async function completeCredentials(uri: string, io: CliIo): Promise<string> {
  const user = userWithoutPassword(uri);
  if (user === undefined) return uri;
  const stdin = io.stdin;
  const stderrIsTerminal = (io.stderr as NodeJS.WriteStream).isTTY === true;
  if (!stdin?.isTTY || !stderrIsTerminal || typeof stdin.setRawMode !== 'function') {
    throw new UsageError(
      `the connection string names user "${user}" but no password, and there is no terminal to ask for it: put the password in the connection string, preferably through the environment (TaskRunner__Storage__Mongo__ConnectionString) rather than --uri, or run at a terminal`,
    );
  }
  const host = /@([^/?#]*)/.exec(uri)?.[1] ?? '';
  const password = await readHidden(stdin, io.stderr, `Password for ${user}@${host}: `);
  if (password.length === 0) throw new UsageError(`no password entered for user "${user}"; run again and type it, or put it in the connection string`);
  promptedSecrets.add(password);
  promptedSecrets.add(encodeURIComponent(password));
  return withPassword(uri, password);
}

/**
 * Reads one line from a terminal without echoing it (raw mode). Enter ends it; Backspace erases
 * one character, Ctrl-U the line; Ctrl-C or Ctrl-D on an empty line cancels.
 */
function readHidden(stdin: NodeJS.ReadStream, out: NodeJS.WritableStream, prompt: string): Promise<string> {
  // Echo goes off before the prompt shows: anything typed (or pasted) once it is visible stays hidden.
  const wasRaw = stdin.isRaw;
  stdin.setRawMode(true);
  stdin.resume();
  out.write(prompt);
  return new Promise((resolve, reject) => {
    let bytes: number[] = [];
    const finish = (error?: Error): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      out.write('\n');
      if (error) reject(error);
      else resolve(Buffer.from(bytes).toString('utf8'));
    };
    const onData = (chunk: Buffer | string): void => {
      for (const byte of typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk) {
        if (byte === 0x0d || byte === 0x0a) return finish();
        if (byte === 0x03 || (byte === 0x04 && bytes.length === 0)) return finish(new UsageError('no password entered (cancelled at the prompt)'));
        if (byte === 0x15) bytes = [];
        else if (byte === 0x7f || byte === 0x08) {
          // Drop one UTF-8 character: its continuation bytes (10xxxxxx), then its first byte.
          while (bytes.length > 0 && ((bytes.at(-1) ?? 0) & 0xc0) === 0x80) bytes.pop();
          bytes.pop();
        } else if (byte >= 0x20 || byte === 0x09) bytes.push(byte);
      }
    };
    stdin.on('data', onData);
  });
}
