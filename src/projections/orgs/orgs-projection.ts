import type { DbTask } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { OrganisationRegistered } from '../../domain/orgs';
import type { Projection } from '../runner';

/** The organisation tree with every org's ancestor path (ul_orgs), for subtree checks and counts. */
export const ORGS_PROJECTION = 'orgs';

export function orgsProjection(): Projection {
  return {
    name: ORGS_PROJECTION,
    tables: ['ul_orgs'],
    streamPrefixes: ['org-'],
    eventTypes: ['OrganisationRegistered'],
    async apply(tx: DbTask, events: RecordedEvent[]) {
      for (const recorded of events) {
        const { orgId, name, parentId, level } = (recorded as unknown as OrganisationRegistered).data;
        // The parent was committed before its child was appended, so its row is already here.
        await tx.none(
          `INSERT INTO ul_orgs (org_id, name, parent_id, level, path)
           SELECT $1, $2, $3, $4, coalesce((SELECT path FROM ul_orgs WHERE org_id = $3), '{}') || $1::text`,
          [orgId, name, parentId, level],
        );
      }
    },
  };
}
