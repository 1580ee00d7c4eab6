/** The four data collections, by role. Their database names come from config. */
export type CollectionRole = 'runs' | 'logs' | 'approvals' | 'artifacts';
export const COLLECTION_ROLES: readonly CollectionRole[] = ['runs', 'logs', 'approvals', 'artifacts'];
