/**
 * The audit context's own rules: sealed stream heads and their Merkle root, how a stream now
 * compares with its sealed head, and the seals' stream, each seal chained to the one before.
 */
export {
  EMPTY_ROOT,
  SEALS_STREAM,
  compareHead,
  compareStreamIds,
  evolveSeals,
  initialSealsState,
  leafHash,
  merkleRoot,
  seal,
  type CurrentStream,
  type HeadFinding,
  type HeadsSealedData,
  type SealEvent,
  type SealsState,
  type StreamHead,
} from './heads';
export { recomputeGrants, type GrantFinding, type StoredGrant } from './grants';
export { equalSharesFen, paidShares, recomputeBatch, recomputeBatchCredits, recomputeVoucherExpiries, type BenefitFinding, type StoredBenefitEvent, type StoredCredit } from './benefits';
