import { createHash } from 'node:crypto';
import { canonicalJson, contentDigest } from './canonical';

/** The reference: the same value with every object's keys sorted, through JSON.stringify. */
function sortedCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedCopy);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((key) => [key, sortedCopy(record[key])]),
    );
  }
  return value;
}

function randomJson(depth: number, random: () => number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 5 : 7));
  const text = (): string => ['', 'a', 'é', '\u2028', '"q"', 'z\\', '😀', 'B', '10', '\u0001'][Math.floor(random() * 10)]!;
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return [0, -0, 1.5, -1e21, 1e-7, 42, Number.MAX_SAFE_INTEGER][Math.floor(random() * 7)];
    case 3:
    case 4:
      return text();
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomJson(depth + 1, random));
    default: {
      // No integer-like keys: JavaScript objects list those first whatever their insertion order,
      // so the reference below could not sort them.
      const record: Record<string, unknown> = {};
      for (let index = Math.floor(random() * 5); index > 0; index -= 1) record[`${text()}k${Math.floor(random() * 3)}`] = randomJson(depth + 1, random);
      if (random() < 0.2) record.skipped = undefined;
      return record;
    }
  }
}

describe('canonicalJson (RFC 8785 for the JSON the event store admits)', () => {
  it('equals JSON.stringify of the value with its keys sorted, for random values', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 2000; round += 1) {
      const value = randomJson(0, random);
      expect(canonicalJson(value)).toBe(JSON.stringify(sortedCopy(value)));
    }
  });

  it('sorts keys by UTF-16 code units, drops undefined properties and writes undefined array items as null', () => {
    expect(canonicalJson({ b: 1, a: [undefined, 2], '😀': 0, 'ﬀ': 0, c: undefined })).toBe('{"a":[null,2],"b":1,"😀":0,"ﬀ":0}');
  });

  it('digests the canonical form of the event with SHA-256', () => {
    const event = { eventId: 'e', streamId: 's', type: 't', schemaVersion: 1, data: { z: 1, a: 'x' }, metadata: { occurredAt: 'now' } };
    const content = '{"data":{"a":"x","z":1},"eventId":"e","metadata":{"occurredAt":"now"},"schemaVersion":1,"streamId":"s","type":"t"}';
    expect(contentDigest(event).equals(createHash('sha256').update(content, 'utf8').digest())).toBe(true);
  });
});
