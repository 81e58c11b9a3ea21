/**
 * Percent and rank among siblings, as the published tables show them: percent to one decimal
 * (null without a target), rank by percent then done, ties sharing a rank (1, 2, 2, 4), units
 * without a target last.
 */

export function percentOf(done: number, target: number): number | null {
  if (target <= 0) return null;
  return Math.floor((done * 1000) / target) / 10;
}

export function rankAmongSiblings<T extends { done: number; target: number }>(siblings: readonly T[]): Map<T, number> {
  const keyed = siblings.map((sibling) => ({ sibling, percent: percentOf(sibling.done, sibling.target) }));
  const ordered = [...keyed].sort((a, b) => {
    if (a.percent === null || b.percent === null) return (a.percent === null ? 1 : 0) - (b.percent === null ? 1 : 0) || b.sibling.done - a.sibling.done;
    return b.percent - a.percent || b.sibling.done - a.sibling.done;
  });
  const ranks = new Map<T, number>();
  ordered.forEach((entry, index) => {
    const previous = ordered[index - 1];
    const tied = previous !== undefined && previous.percent === entry.percent && previous.sibling.done === entry.sibling.done;
    ranks.set(entry.sibling, tied ? ranks.get(previous.sibling)! : index + 1);
  });
  return ranks;
}
