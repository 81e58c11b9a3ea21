import type { MemberCommandResult } from '../../application/members';
import type { PointsGrantedData } from '../../domain/members';

/** What every member command answers: the points it granted, the balance after it, and its events. */
export function presentMemberResult(memberId: string, result: MemberCommandResult) {
  const pointsGranted = result.events
    .filter((event) => event.type === 'PointsGranted')
    .reduce((sum, event) => sum + (event.data as unknown as PointsGrantedData).points, 0);
  return {
    memberId,
    pointsGranted,
    balance: { availablePoints: result.state.available, heldPoints: result.state.held, lifetimeEarnedPoints: result.state.lifetimeEarned },
    events: result.events.map((event) => ({ type: event.type, revision: event.revision.toString() })),
  };
}
