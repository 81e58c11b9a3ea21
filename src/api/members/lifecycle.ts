import { Inject } from '@nestjs/common';
import { Command, CommandHandler, Query, QueryHandler, type ICommandHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { JoinApplicationInput } from '../../application/members';
import type { UnionLedger } from '../../composition-root';
import type { JwtClaims } from '../common/auth';
import { commandMeta } from '../common/commands';
import { LEDGER } from '../tokens';

/**
 * The member lifecycle as @nestjs/cqrs commands and queries: one class and one handler each, the
 * handler a call into the application layer (MemberLifecycle), which checks the caller's scope.
 */

abstract class LifecycleCommand<Input> extends Command<Record<string, unknown>> {
  constructor(
    readonly user: JwtClaims,
    readonly idempotencyKey: string,
    readonly input: Input,
  ) {
    super();
  }
}

export class RequestTransfer extends LifecycleCommand<{ memberId: string; toOrgId: string }> {}
export class AcceptTransfer extends LifecycleCommand<{ memberId: string; transferId: string }> {}
export class DeclineTransfer extends LifecycleCommand<{ memberId: string; transferId: string; reason: string }> {}
export class WithdrawTransfer extends LifecycleCommand<{ memberId: string; transferId: string }> {}
export class ParkMember extends LifecycleCommand<{ memberId: string; reason: string }> {}
export class LeaveUnion extends LifecycleCommand<{ memberId: string; reason: string }> {}
export class ReinstateMember extends LifecycleCommand<{ memberId: string; reason: string }> {}
export class ApplyToJoin extends LifecycleCommand<JoinApplicationInput> {}
export class ApproveJoin extends LifecycleCommand<{ applicationId: string }> {}
export class DeclineJoin extends LifecycleCommand<{ applicationId: string; reason: string }> {}

abstract class LifecycleHandler {
  constructor(@Inject(LEDGER) protected readonly ledger: UnionLedger) {}
}

@CommandHandler(RequestTransfer)
export class RequestTransferHandler extends LifecycleHandler implements ICommandHandler<RequestTransfer> {
  execute({ user, idempotencyKey, input }: RequestTransfer) {
    return this.ledger.lifecycle.requestTransfer(user, input.memberId, input.toOrgId, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(AcceptTransfer)
export class AcceptTransferHandler extends LifecycleHandler implements ICommandHandler<AcceptTransfer> {
  execute({ user, idempotencyKey, input }: AcceptTransfer) {
    return this.ledger.lifecycle.acceptTransfer(user, input.memberId, input.transferId, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(DeclineTransfer)
export class DeclineTransferHandler extends LifecycleHandler implements ICommandHandler<DeclineTransfer> {
  execute({ user, idempotencyKey, input }: DeclineTransfer) {
    return this.ledger.lifecycle.declineTransfer(user, input.memberId, input.transferId, input.reason, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(WithdrawTransfer)
export class WithdrawTransferHandler extends LifecycleHandler implements ICommandHandler<WithdrawTransfer> {
  execute({ user, idempotencyKey, input }: WithdrawTransfer) {
    return this.ledger.lifecycle.withdrawTransfer(user, input.memberId, input.transferId, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(ParkMember)
export class ParkMemberHandler extends LifecycleHandler implements ICommandHandler<ParkMember> {
  execute({ user, idempotencyKey, input }: ParkMember) {
    return this.ledger.lifecycle.park(user, input.memberId, input.reason, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(LeaveUnion)
export class LeaveUnionHandler extends LifecycleHandler implements ICommandHandler<LeaveUnion> {
  execute({ user, idempotencyKey, input }: LeaveUnion) {
    return this.ledger.lifecycle.leave(user, input.memberId, input.reason, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(ReinstateMember)
export class ReinstateMemberHandler extends LifecycleHandler implements ICommandHandler<ReinstateMember> {
  execute({ user, idempotencyKey, input }: ReinstateMember) {
    return this.ledger.lifecycle.reinstate(user, input.memberId, input.reason, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(ApplyToJoin)
export class ApplyToJoinHandler extends LifecycleHandler implements ICommandHandler<ApplyToJoin> {
  execute({ user, idempotencyKey, input }: ApplyToJoin) {
    return this.ledger.lifecycle.applyToJoin(user, input, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(ApproveJoin)
export class ApproveJoinHandler extends LifecycleHandler implements ICommandHandler<ApproveJoin> {
  execute({ user, idempotencyKey, input }: ApproveJoin) {
    return this.ledger.lifecycle.approveJoin(user, input.applicationId, commandMeta(user, idempotencyKey));
  }
}

@CommandHandler(DeclineJoin)
export class DeclineJoinHandler extends LifecycleHandler implements ICommandHandler<DeclineJoin> {
  execute({ user, idempotencyKey, input }: DeclineJoin) {
    return this.ledger.lifecycle.declineJoin(user, input.applicationId, input.reason, commandMeta(user, idempotencyKey));
  }
}

/** A unit's pending transfers or join applications (the approvals inbox), a keyset page. */
export class ListPending extends Query<{ rows: Array<Record<string, unknown>>; next: string | null }> {
  constructor(
    readonly user: JwtClaims,
    readonly options: { kind: 'transfer' | 'join'; orgId: string; direction: 'incoming' | 'outgoing'; after: bigint | null; limit: number },
  ) {
    super();
  }
}

@QueryHandler(ListPending)
export class ListPendingHandler extends LifecycleHandler implements IQueryHandler<ListPending> {
  async execute({ user, options }: ListPending) {
    const page = await this.ledger.lifecycle.pending(user, options);
    return { rows: page.rows.map((row) => ({ ...row })), next: page.next };
  }
}

/** A unit's own members (masked: id, name, status), a keyset page by member id. */
export class ListUnitMembers extends Query<{ rows: Array<{ memberId: string; name: string; status: string }>; next: string | null }> {
  constructor(
    readonly user: JwtClaims,
    readonly orgId: string,
    readonly options: { afterMemberId: string | null; limit: number },
  ) {
    super();
  }
}

@QueryHandler(ListUnitMembers)
export class ListUnitMembersHandler extends LifecycleHandler implements IQueryHandler<ListUnitMembers> {
  execute({ user, orgId, options }: ListUnitMembers) {
    return this.ledger.lifecycle.unitMembers(user, orgId, options);
  }
}

export const LIFECYCLE_HANDLERS = [
  RequestTransferHandler,
  AcceptTransferHandler,
  DeclineTransferHandler,
  WithdrawTransferHandler,
  ParkMemberHandler,
  LeaveUnionHandler,
  ReinstateMemberHandler,
  ApplyToJoinHandler,
  ApproveJoinHandler,
  DeclineJoinHandler,
  ListPendingHandler,
  ListUnitMembersHandler,
];
