import { checkNationalId, checkPhone } from '../domain/members';
import { DEMO_COUNTIES, demoNationalId, demoPhone } from './demo';

describe('the demo roster', () => {
  it('gives 5,000 members distinct, checksum-valid ID numbers and phone numbers', () => {
    const ids = new Set<string>();
    const phones = new Set<string>();
    for (let i = 0; i < 5000; i += 1) {
      const id = demoNationalId(i, DEMO_COUNTIES[i % DEMO_COUNTIES.length]!.region);
      expect({ i, check: checkNationalId(id, new Date('2026-11-30T00:00:00Z')) }).toEqual({ i, check: { ok: true, value: id } });
      const phone = demoPhone(i);
      expect({ i, check: checkPhone(phone).ok }).toEqual({ i, check: true });
      ids.add(id);
      phones.add(phone);
    }
    expect({ ids: ids.size, phones: phones.size }).toEqual({ ids: 5000, phones: 5000 });
  });
});
