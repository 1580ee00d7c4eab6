import type { Document } from 'mongodb';

/** Who the connection is authenticated as, and what it may do (`connectionStatus` with `showPrivileges`). */
export interface AuthFacts {
  users: Array<{ user: string; db: string }>;
  roles: Array<{ role: string; db: string }>;
  /** Undefined when the server does not list privileges (a server without user management, or no authentication). */
  privileges?: Array<{ resource: Document; actions: string[] }>;
}

/** Reads a recorded `connectionStatus` answer. Pure. */
export function authFacts(connectionStatus: Document): AuthFacts {
  const info = (connectionStatus.authInfo ?? {}) as Document;
  const list = (value: unknown): Document[] => (Array.isArray(value) ? (value as Document[]) : []);
  const privileges = Array.isArray(info.authenticatedUserPrivileges)
    ? list(info.authenticatedUserPrivileges).map((privilege) => ({ resource: (privilege.resource ?? {}) as Document, actions: list(privilege.actions).map(String) }))
    : undefined;
  return {
    users: list(info.authenticatedUsers).map((user) => ({ user: String(user.user), db: String(user.db) })),
    roles: list(info.authenticatedUserRoles).map((role) => ({ role: String(role.role), db: String(role.db) })),
    ...(privileges ? { privileges } : {}),
  };
}

/** One action the user needs on one collection. */
export interface NeededAction {
  collection: string;
  action: string;
}

/**
 * The needed actions the listed privileges do not grant, as `collection: action`. A privilege's
 * resource grants on a collection when it is `anyResource`, or names the database (or "" for
 * any) and the collection (or "" for any). Pure.
 */
export function missingActions(privileges: AuthFacts['privileges'], database: string, needed: readonly NeededAction[]): NeededAction[] {
  if (!privileges) return [];
  const grants = (collection: string, action: string): boolean =>
    privileges.some((privilege) => {
      if (!privilege.actions.includes(action)) return false;
      const resource = privilege.resource;
      if (resource.anyResource === true) return true;
      if (typeof resource.db !== 'string' || typeof resource.collection !== 'string') return false;
      return (resource.db === '' || resource.db === database) && (resource.collection === '' || resource.collection === collection);
    });
  return needed.filter((item) => !grants(item.collection, item.action));
}
