import { splitFen } from '../shared';
import { equalSharesFen } from './benefits';

/** The audit's own equal split, written apart from splitFen, agrees with it wherever the service uses it (equal weights). */
describe('equalSharesFen', () => {
  it('gives what splitFen gives for equal weights: the remainder one fen each to the earliest shares', () => {
    expect(equalSharesFen(100, 3)).toEqual([34, 33, 33]);
    for (let count = 1; count <= 40; count += 1) {
      for (const totalFen of [0, 1, count - 1, count, count + 1, 999, 1_000, 123_457, 9_999_999]) {
        if (totalFen < 0) continue;
        expect(equalSharesFen(totalFen, count)).toEqual(splitFen(totalFen, Array.from({ length: count }, () => 1)));
      }
    }
  });
});
