import { ORG_ID } from '../../domain/orgs';
import { object, str } from '../common/validation';

/** Path parameters and bodies of the routes that change the union tree (TypeBox schemas, see common/validation.ts). */

const orgId = (description: string) => str({ min: 1, max: 64, pattern: ORG_ID, description });
const reason = () => str({ min: 1, max: 200, description: 'why (kept in the event)' });

export const orgParams = object({ orgId: orgId('the organisation') });
export const renameSchema = object({ name: str({ min: 1, max: 100, description: 'the new name' }) });
export const moveSchema = object({ parentId: orgId('the new parent, of a higher level, in your subtree and not below the organisation') });
export const mergeSchema = object({ intoOrgId: orgId('the unit of the same level that takes the members, in your subtree') });
export const closeSchema = object({ reason: reason() });
