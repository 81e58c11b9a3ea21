import type { DbTask } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { OrganisationEvent } from '../../domain/orgs';
import type { Projection } from '../runner';

/** The organisation tree with every org's ancestor path (ul_orgs), for subtree checks and counts. */
export const ORGS_PROJECTION = 'orgs';

export function orgsProjection(): Projection {
  return {
    name: ORGS_PROJECTION,
    tables: ['ul_orgs', 'ul_org_tree'],
    streamPrefixes: ['org-'],
    eventTypes: ['OrganisationRegistered', 'OrganisationRenamed', 'OrganisationMoved', 'OrganisationMerged', 'OrganisationClosed'],
    async apply(tx: DbTask, events: RecordedEvent[]) {
      for (const recorded of events) {
        const event = { type: recorded.type, data: recorded.data } as unknown as OrganisationEvent;
        switch (event.type) {
          case 'OrganisationRegistered': {
            const { orgId, name, parentId, level } = event.data;
            // The parent was committed before its child was appended, so its row is already here.
            await tx.none(
              `INSERT INTO ul_orgs (org_id, name, parent_id, level, path)
               SELECT $1, $2, $3, $4, coalesce((SELECT path FROM ul_orgs WHERE org_id = $3), '{}') || $1::text`,
              [orgId, name, parentId, level],
            );
            break;
          }
          case 'OrganisationRenamed':
            await tx.none('UPDATE ul_orgs SET name = $2 WHERE org_id = $1', [event.data.orgId, event.data.name]);
            break;
          case 'OrganisationMoved': {
            const { orgId, toParentId } = event.data;
            // Every path through the moved org: the new parent's path, then the part from the org down.
            await tx.none(
              `UPDATE ul_orgs o
                  SET path = p.path || o.path[array_position(o.path, $1::text):],
                      parent_id = CASE WHEN o.org_id = $1 THEN $2 ELSE o.parent_id END
                 FROM (SELECT path FROM ul_orgs WHERE org_id = $2) p
                WHERE o.path @> ARRAY[$1::text]`,
              [orgId, toParentId],
            );
            await tx.none(
              `INSERT INTO ul_org_tree (id, changed_at_position) VALUES (1, $1)
               ON CONFLICT (id) DO UPDATE SET changed_at_position = greatest(ul_org_tree.changed_at_position, EXCLUDED.changed_at_position)`,
              [recorded.globalPosition.toString()],
            );
            break;
          }
          case 'OrganisationMerged':
            await tx.none('UPDATE ul_orgs SET closed = true, merged_into = $2 WHERE org_id = $1', [event.data.orgId, event.data.intoOrgId]);
            break;
          case 'OrganisationClosed':
            await tx.none('UPDATE ul_orgs SET closed = true WHERE org_id = $1', [event.data.orgId]);
            break;
          default: {
            const unknown: never = event;
            throw new Error(`unknown organisation event ${(unknown as { type: string }).type}`);
          }
        }
      }
    },
  };
}
