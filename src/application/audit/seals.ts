import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { EventStore } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import { evolveSeals, initialSealsState, merkleRoot, seal, SEALS_STREAM, type HeadsSealedData, type SealEvent, type SealsState, type StreamHead } from '../../domain/audit';
import { CommandHandler } from '../command-handler';
import { headsAt, visibleFeedEnd, type TakenHeads } from './heads';

/**
 * Sealing the stream heads (docs/AUDIT.md): the heads at the visible end of the feed, their root
 * recorded as a `HeadsSealed` event on `audit-seals` (so seals chain to each other twice: each
 * names the previous root, and the stream's hash chain links the events), and the heads written
 * to a file the auditor keeps away from the database.
 */

export interface SealResult {
  /** The seal recorded now, or the last one when nothing was new since it. */
  seal: HeadsSealedData;
  recorded: boolean;
  heads: TakenHeads;
}

export class Seals {
  private readonly handler: CommandHandler<SealsState, SealEvent>;

  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
  ) {
    this.handler = new CommandHandler(store, { name: 'audit seals', initialState: initialSealsState, evolve: evolveSeals });
  }

  async seal(): Promise<SealResult> {
    const heads = await headsAt(this.db, await visibleFeedEnd(this.db));
    const result = await this.handler.handle(
      SEALS_STREAM,
      (state, at) => seal(state, { position: heads.point.position, streams: heads.heads.length, events: heads.events, root: heads.root }, at),
      // One command per position: two sealers racing at one position record one seal.
      { commandId: `audit-seal:${heads.point.position}`, actor: { type: 'system', id: 'audit' } },
    );
    const last = result.state.last;
    if (!last) throw new Error('invariant violated: a ledger with no events has nothing to seal');
    return { seal: last, recorded: result.events.length > 0, heads };
  }

  /** Every recorded seal, oldest first (bounded by the store's page size: one seal a day fits for decades). */
  async list(): Promise<HeadsSealedData[]> {
    const events = await this.store.readStream(SEALS_STREAM);
    return events.filter((event) => event.type === 'HeadsSealed').map((event) => event.data as unknown as HeadsSealedData);
  }
}

// ---- the seal file: NDJSON, the seal on the first line, then one line per stream head ----

/** The longest line a seal file may hold (a stream id is at most a few hundred characters). */
const MAX_LINE_CHARS = 8_192;

export class SealFileError extends Error {}

export async function writeSealFile(path: string, sealData: HeadsSealedData, heads: readonly StreamHead[]): Promise<void> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  const write = async (line: string): Promise<void> => {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  };
  await write(JSON.stringify({ seal: sealData }));
  for (const head of heads) await write(JSON.stringify({ stream: head.streamId, revision: head.revision, hash: head.hash }));
  out.end();
  await once(out, 'finish');
}

/** Reads a seal file and checks that its heads give its root; a file that does not is refused. */
export async function readSealFile(path: string): Promise<{ seal: HeadsSealedData; heads: StreamHead[] }> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let sealData: HeadsSealedData | undefined;
  const heads: StreamHead[] = [];
  let number = 0;
  for await (const line of lines) {
    number += 1;
    if (line.length > MAX_LINE_CHARS) throw new SealFileError(`line ${number} is longer than ${MAX_LINE_CHARS} characters`);
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new SealFileError(`line ${number} is not JSON`);
    }
    if (number === 1) {
      const candidate = (parsed as { seal?: HeadsSealedData }).seal;
      if (!candidate || typeof candidate.root !== 'string' || typeof candidate.position !== 'string') {
        throw new SealFileError('the first line is not a seal ({"seal": {...}})');
      }
      sealData = candidate;
      continue;
    }
    const head = parsed as { stream?: unknown; revision?: unknown; hash?: unknown };
    if (typeof head.stream !== 'string' || !Number.isSafeInteger(head.revision) || typeof head.hash !== 'string' || !/^[0-9a-f]{64}$/.test(head.hash)) {
      throw new SealFileError(`line ${number} is not a stream head ({"stream", "revision", "hash"})`);
    }
    heads.push({ streamId: head.stream, revision: head.revision as number, hash: head.hash });
  }
  if (!sealData) throw new SealFileError('the file is empty');
  let root: string;
  try {
    root = merkleRoot(heads);
  } catch (error) {
    throw new SealFileError(`the heads are not a seal's: ${(error as Error).message}`);
  }
  if (root !== sealData.root) throw new SealFileError(`the heads give root ${root}, the seal says ${sealData.root}: the file was altered`);
  if (heads.length !== sealData.streams) throw new SealFileError(`the file holds ${heads.length} heads, the seal says ${sealData.streams}`);
  return { seal: sealData, heads };
}
