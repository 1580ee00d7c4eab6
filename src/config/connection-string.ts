import { UsageError } from '../errors.js';

/**
 * Checks on the connection string made before any driver code sees it, so a typo is a usage error
 * on one line (never a stack trace, never the password).
 */

const SCHEME = /^mongodb(?:\+srv)?:\/\//;
const USER_INFO = /^(mongodb(?:\+srv)?:\/\/)([^@/?#]*)@/;
/** Mechanisms that take no password (certificate, Kerberos ticket, cloud identity). */
const PASSWORDLESS_MECHANISMS = new Set(['MONGODB-X509', 'GSSAPI', 'MONGODB-AWS', 'MONGODB-OIDC']);

export function checkConnectionStringScheme(uri: string): void {
  if (SCHEME.test(uri)) return;
  // Only the scheme is shown: the rest may hold a password, and without a scheme nothing marks it.
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]{0,19}):\/\//.exec(uri)?.[1];
  const found = scheme === undefined ? 'it does not start with a "scheme://"' : `it starts with "${scheme}://"`;
  throw new UsageError(`the connection string must start with "mongodb://" or "mongodb+srv://" (${found}); check --uri, TaskRunner:Storage:Mongo:ConnectionString or TaskRunner__Storage__Mongo__ConnectionString`);
}

/**
 * The user name when the connection string names a user but no password and its mechanism needs
 * one (SCRAM, PLAIN, or none given): the password must then be asked for.
 */
export function userWithoutPassword(uri: string): string | undefined {
  const userInfo = USER_INFO.exec(uri)?.[2];
  if (userInfo === undefined || userInfo === '') return undefined;
  const colon = userInfo.indexOf(':');
  if (colon >= 0 && colon < userInfo.length - 1) return undefined;
  const mechanism = /[?&]authMechanism=([^&#]*)/i.exec(uri)?.[1]?.toUpperCase();
  if (mechanism !== undefined && PASSWORDLESS_MECHANISMS.has(mechanism)) return undefined;
  const user = colon >= 0 ? userInfo.slice(0, colon) : userInfo;
  try {
    return decodeURIComponent(user);
  } catch {
    return user;
  }
}

/** The connection string with `password` (percent-encoded) added to its user info. */
export function withPassword(uri: string, password: string): string {
  return uri.replace(USER_INFO, (_, scheme: string, userInfo: string) => `${scheme}${userInfo.split(':')[0] ?? ''}:${encodeURIComponent(password)}@`);
}
