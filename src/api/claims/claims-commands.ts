import { createHash } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { GateUnavailableError, type ClaimOutcome } from '../../application/claims';
import type { UnionLedger } from '../../composition-root';
import type { CampaignTerms, LotteryState, LotteryTerms } from '../../domain/claims';
import type { VoucherTerms } from '../../domain/benefits';
import { yuanToFen } from '../../domain/shared';
import type { JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { LEDGER } from '../tokens';

/** The claims context's commands as @nestjs/cqrs commands: each handler one call into the application layer. */

abstract class ClaimsCommand<Input, Result> extends Command<Result> {
  constructor(
    readonly user: JwtClaims,
    readonly key: string,
    readonly input: Input,
  ) {
    super();
  }
}

abstract class ClaimsHandler {
  constructor(@Inject(LEDGER) protected readonly ledger: UnionLedger) {}
}

export interface VoucherInput {
  category: string;
  faceValue: string;
  validFrom: string;
  validUntil: string;
}

const voucherOf = (input: VoucherInput): VoucherTerms => ({
  validFromMs: ms(input.validFrom, 'voucher/validFrom'),
  validUntilMs: ms(input.validUntil, 'voucher/validUntil'),
  category: input.category,
  faceFen: yuanToFen(input.faceValue),
});

/** An instant the schema let through but the calendar does not know (2027-02-30T...). */
function ms(text: string, field: string): number {
  const value = Date.parse(text);
  if (Number.isNaN(value)) throw AppError.badRequest('VALIDATION.FAILED', `${field} is not a real instant`, { issues: [{ path: `/${field}`, reason: 'is not a real instant' }] });
  return value;
}

export interface CampaignInput {
  campaignId: string;
  orgId: string;
  name: string;
  units: number;
  opensAt: string;
  closesAt: string;
  minPoints?: number | undefined;
  programmeId?: string | undefined;
  voucher?: VoucherInput | undefined;
  prizeSkuId?: string | undefined;
}

export class CreateCampaign extends ClaimsCommand<CampaignInput, CampaignTerms> {}
@CommandHandler(CreateCampaign)
export class CreateCampaignHandler extends ClaimsHandler implements ICommandHandler<CreateCampaign> {
  execute({ user, key, input }: CreateCampaign): Promise<CampaignTerms> {
    // A prize is vouchers of a programme, or a mall SKU: one of the two, whole.
    const vouchers = input.programmeId !== undefined && input.voucher !== undefined;
    if (vouchers === (input.prizeSkuId !== undefined) || (!vouchers && (input.programmeId !== undefined || input.voucher !== undefined))) {
      throw new AppError('CLAIM.PRIZE_INVALID', 'a campaign gives vouchers (programmeId and voucher) or units of a mall SKU (prizeSkuId)', 400);
    }
    const voucher = input.voucher ? voucherOf(input.voucher) : null; // First: its instants are checked before the campaign's.
    return this.ledger.claims.createCampaign(
      user,
      {
        campaignId: input.campaignId,
        orgId: input.orgId,
        name: input.name,
        units: input.units,
        opensAtMs: ms(input.opensAt, 'opensAt'),
        closesAtMs: ms(input.closesAt, 'closesAt'),
        minPoints: input.minPoints ?? 0,
        programmeId: input.programmeId ?? null,
        voucher,
        ...(input.prizeSkuId !== undefined ? { prizeSkuId: input.prizeSkuId } : {}),
      },
      key,
    );
  }
}

/** The Idempotency-Key is the HTTP layer's: a claim's own identity is (campaign, member), so a retry with a new key is the same claim. */
export class ClaimUnit extends ClaimsCommand<{ campaignId: string; digest: string }, ClaimOutcome> {}
@CommandHandler(ClaimUnit)
export class ClaimUnitHandler extends ClaimsHandler implements ICommandHandler<ClaimUnit> {
  async execute({ user, key, input }: ClaimUnit): Promise<ClaimOutcome> {
    try {
      // The request's identity (key and digest of method, path and body) goes into ClaimGranted's metadata.
      return await this.ledger.claims.claim(user.sub, input.campaignId, claimRequestId(key, input.digest));
    } catch (error) {
      // Not the client's fault and not a bug: 503, and the retry learns whether the claim got in.
      if (error instanceof GateUnavailableError) throw new AppError('CLAIM.GATE_UNAVAILABLE', 'the claim could not be taken now; try again', 503);
      throw error;
    }
  }
}

/** SHA-256 of the Idempotency-Key and the request digest: the same request, whatever the key's length. */
const claimRequestId = (key: string, digest: string): string => createHash('sha256').update(`${key}\n${digest}`, 'utf8').digest('hex');

export interface LotteryInput {
  lotteryId: string;
  orgId: string;
  name: string;
  entryPoints: number;
  prizes: number;
  opensAt: string;
  closesAt: string;
  losers: 'refund' | 'spend';
  maxEntries: number;
  programmeId?: string | undefined;
  voucher?: VoucherInput | undefined;
  prizePoints?: number | undefined;
}

export class CreateLottery extends ClaimsCommand<LotteryInput, LotteryTerms> {}
@CommandHandler(CreateLottery)
export class CreateLotteryHandler extends ClaimsHandler implements ICommandHandler<CreateLottery> {
  execute({ user, key, input }: CreateLottery): Promise<LotteryTerms> {
    const voucher = input.voucher === undefined ? null : voucherOf(input.voucher); // First: its instants are checked before the lottery's.
    return this.ledger.lotteries.create(
      user,
      {
        lotteryId: input.lotteryId,
        orgId: input.orgId,
        name: input.name,
        entryPoints: input.entryPoints,
        prizes: input.prizes,
        opensAtMs: ms(input.opensAt, 'opensAt'),
        closesAtMs: ms(input.closesAt, 'closesAt'),
        losers: input.losers,
        maxEntries: input.maxEntries,
        programmeId: input.programmeId ?? null,
        voucher,
        prizePoints: input.prizePoints ?? null,
      },
      key,
    );
  }
}

export class EnterLottery extends ClaimsCommand<{ lotteryId: string }, Awaited<ReturnType<UnionLedger['lotteries']['enter']>>> {}
@CommandHandler(EnterLottery)
export class EnterLotteryHandler extends ClaimsHandler implements ICommandHandler<EnterLottery> {
  async execute({ user, input }: EnterLottery) {
    await this.ledger.lotteries.visibleTerms(user, input.lotteryId);
    return this.ledger.lotteries.enter(user.sub, input.lotteryId);
  }
}

export class DrawLottery extends ClaimsCommand<{ lotteryId: string }, LotteryState> {}
@CommandHandler(DrawLottery)
export class DrawLotteryHandler extends ClaimsHandler implements ICommandHandler<DrawLottery> {
  execute({ user, key, input }: DrawLottery): Promise<LotteryState> {
    return this.ledger.lotteries.draw(user, input.lotteryId, key);
  }
}

export const CLAIMS_COMMAND_HANDLERS = [CreateCampaignHandler, ClaimUnitHandler, CreateLotteryHandler, EnterLotteryHandler, DrawLotteryHandler];
