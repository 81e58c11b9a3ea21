/**
 * Partitions of a projection: the events of a stream all go to one partition, chosen by a hash of
 * the stream id, so each partition sees its streams' events in order and the partitions need no
 * coordination. Each partition has its own checkpoint (and its own leader, src/infra/leadership.ts);
 * it reads the whole feed, applies its own streams' events and moves its checkpoint over the
 * others', so the gap-free global order still holds for every partition.
 */

export interface Partition {
  /** 0 .. count - 1 */
  index: number;
  count: number;
}

export const SINGLE: Partition = { index: 0, count: 1 };
/** A bound on PROJECTION_PARTITIONS (each partition reads the feed and holds a connection in its batches). */
export const MAX_PARTITIONS = 64;

/** FNV-1a over the id's UTF-16 code units: stable across processes and versions, no allocation. */
export function streamHash(streamId: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < streamId.length; index += 1) {
    hash ^= streamId.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function partitionOf(streamId: string, count: number): number {
  return count <= 1 ? 0 : streamHash(streamId) % count;
}

export function inPartition(streamId: string, partition: Partition): boolean {
  return partitionOf(streamId, partition.count) === partition.index;
}

/** All partitions of a layout of `count`. */
export function partitions(count: number): Partition[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS) throw new Error(`invariant violated: ${count} partitions (1 to ${MAX_PARTITIONS})`);
  return Array.from({ length: count }, (_, index) => ({ index, count }));
}

/**
 * The checkpoint (and leadership role) name of a partition. One partition keeps the projection's
 * own name, so a deployment that never partitions keeps its checkpoints as they were.
 */
export function partitionName(name: string, partition: Partition): string {
  return partition.count === 1 ? name : `${name}#${partition.index}/${partition.count}`;
}

/** The layout a stored checkpoint name belongs to: the partition count, or undefined when it is another projection's. */
export function layoutOf(name: string, checkpointName: string): number | undefined {
  if (checkpointName === name) return 1;
  const match = /^(.*)#(\d+)\/(\d+)$/.exec(checkpointName);
  return match && match[1] === name ? Number(match[3]) : undefined;
}
