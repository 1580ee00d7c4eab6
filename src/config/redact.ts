/**
 * Credentials never leave the process: every connection string that is shown (logs, reports,
 * errors, the ledger) passes through here first.
 */

const CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i;
const SECRET_PARAMS = /([?&](?:[^=&]*password[^=&]*|[^=&]*secret[^=&]*|authMechanismProperties)=)[^&]*/gi;

/** `mongodb://user:p%40ss@host/db?tlsCertificateKeyFilePassword=x` -> `mongodb://user:***@host/db?tlsCertificateKeyFilePassword=***`. */
export function redactConnectionString(uri: string): string {
  return uri
    .replace(CREDENTIALS, (_, scheme: string, userInfo: string) => {
      const user = userInfo.split(':')[0] ?? '';
      return `${scheme}${user}:***@`;
    })
    .replace(SECRET_PARAMS, '$1***');
}

/** The secret strings inside a connection string, raw and URL-decoded, for scrubbing free text. */
export function secretsOf(uri: string): string[] {
  const secrets = new Set<string>();
  const userInfo = CREDENTIALS.exec(uri)?.[2];
  const password = userInfo?.includes(':') ? userInfo.slice(userInfo.indexOf(':') + 1) : undefined;
  if (password) secrets.add(password);
  for (const match of uri.matchAll(/[?&](?:[^=&]*password[^=&]*|[^=&]*secret[^=&]*)=([^&]*)/gi)) {
    if (match[1]) secrets.add(match[1]);
  }
  for (const secret of [...secrets]) {
    try {
      secrets.add(decodeURIComponent(secret));
    } catch {
      // not URL-encoded; the raw form is enough
    }
  }
  return [...secrets].filter((secret) => secret.length > 0);
}

/** Removes every occurrence of the given secrets (and any connection string's credentials) from text. */
export function scrub(text: string, secrets: readonly string[]): string {
  let clean = text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^@/\s?#]*)@/gi, (_, scheme: string, userInfo: string) => `${scheme}${userInfo.split(':')[0] ?? ''}:***@`);
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) clean = clean.split(secret).join('***');
  return clean;
}

/** The database named in a connection string's path, if any. */
export function databaseInConnectionString(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]*)/i.exec(uri);
  const name = match?.[1];
  if (!name) return undefined;
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
