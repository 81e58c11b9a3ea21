import { commandSpec } from '../../../test/support/given-when-then';
import {
  evolveCombo,
  evolveComboPick,
  initialComboPickState,
  initialComboState,
  initialOrderState,
  evolveOrder,
  offerCombo,
  pickCombo,
  placeOrder,
  withdrawCombo,
  type ComboEvent,
  type ComboOffer,
  type ComboPickEvent,
  type SkuListing,
} from '.';

const combo = commandSpec(initialComboState, evolveCombo);
const pick = commandSpec(initialComboPickState, evolveComboPick);
const order = commandSpec(initialOrderState, evolveOrder);
const NOW = new Date('2027-01-20T02:00:00Z');

const offer: Omit<ComboOffer, 'offeredAtMs'> = {
  comboId: 'spring-2027',
  orgId: 'u-1',
  name: '2027 春节福利',
  skus: [
    { skuId: 'rice-5kg', name: '五常大米 5kg', unitFen: 6000 },
    { skuId: 'oil-5l', name: '花生油 5L', unitFen: 9000 },
    { skuId: 'towel', name: '毛巾', unitFen: 1500 },
  ],
  budgetFen: 20_000,
  offeredBy: 'admin-u1',
};
const offered: ComboEvent = { type: 'ComboOffered', data: { ...offer, offeredAtMs: NOW.getTime() } };
const comboState = (events: ComboEvent[]) => combo.given(events).state();
const member = { memberId: 'm-1', orgId: 'u-1-a' };
const items = [
  { skuId: 'rice-5kg', quantity: 1, orderId: 'o-rice' },
  { skuId: 'oil-5l', quantity: 1, orderId: 'o-oil' },
  { skuId: 'towel', quantity: 2, orderId: 'o-towel' },
];
const picked: ComboPickEvent = {
  type: 'ComboPicked',
  data: {
    comboId: 'spring-2027',
    memberId: 'm-1',
    orgId: 'u-1-a',
    items: [
      { skuId: 'rice-5kg', quantity: 1, orderId: 'o-rice', valueFen: 6000 },
      { skuId: 'oil-5l', quantity: 1, orderId: 'o-oil', valueFen: 9000 },
      { skuId: 'towel', quantity: 2, orderId: 'o-towel', valueFen: 3000 },
    ],
    totalFen: 18_000,
    pickedAtMs: NOW.getTime(),
  },
};

describe('offering a welfare combination', () => {
  it('records the SKUs with their unit values fixed now, and the budget per member', () => {
    combo.given([]).when((state) => offerCombo(state, offer, NOW)).then([offered]);
  });

  it('refuses a second offer under the same id, no SKUs or a SKU twice, a budget out of bounds or that buys nothing', () => {
    combo.given([offered]).when((state) => offerCombo(state, offer, NOW)).thenFails('MALL.COMBO_EXISTS');
    combo.given([]).when((state) => offerCombo(state, { ...offer, skus: [] }, NOW)).thenFails('MALL.COMBO_SKUS_INVALID');
    combo.given([]).when((state) => offerCombo(state, { ...offer, skus: [offer.skus[0]!, offer.skus[0]!] }, NOW)).thenFails('MALL.COMBO_SKUS_INVALID');
    combo.given([]).when((state) => offerCombo(state, { ...offer, budgetFen: 0 }, NOW)).thenFails('MALL.BUDGET_INVALID');
    combo.given([]).when((state) => offerCombo(state, { ...offer, budgetFen: 1000 }, NOW)).thenFails('MALL.BUDGET_INVALID');
    combo.given([]).when((state) => offerCombo(state, { ...offer, name: '  ' }, NOW)).thenFails('MALL.NAME_INVALID');
  });

  it('is withdrawn once', () => {
    combo.given([offered]).when((state) => withdrawCombo(state, { withdrawnBy: 'admin-u1' })).then([{ type: 'ComboWithdrawn', data: { comboId: 'spring-2027', withdrawnBy: 'admin-u1' } }]);
    combo.given([offered, { type: 'ComboWithdrawn', data: { comboId: 'spring-2027', withdrawnBy: 'admin-u1' } }]).when((state) => withdrawCombo(state, { withdrawnBy: 'x' })).then([]);
    combo.given([]).when((state) => withdrawCombo(state, { withdrawnBy: 'x' })).thenFails('MALL.COMBO_NOT_FOUND');
  });
});

describe('a member picking', () => {
  it('records the pick at the offer’s values, within the budget', () => {
    pick.given([]).when((state) => pickCombo(comboState([offered]), state, { ...member, items }, NOW)).then([picked]);
  });

  it('picks once: a second pick, whatever it holds, is refused', () => {
    pick.given([picked]).when((state) => pickCombo(comboState([offered]), state, { ...member, items: [items[2]!] }, NOW)).thenFails('MALL.COMBO_ALREADY_PICKED', {
      comboId: 'spring-2027',
      orderIds: ['o-rice', 'o-oil', 'o-towel'],
    });
  });

  it('refuses a pick worth more than the budget (the member never tops up), and says by how much', () => {
    const tooMuch = [{ skuId: 'oil-5l', quantity: 2, orderId: 'o-oil' }, items[2]!];
    pick.given([]).when((state) => pickCombo(comboState([offered]), state, { ...member, items: tooMuch }, NOW)).thenFails('MALL.COMBO_OVER_BUDGET', { totalFen: 21_000, budgetFen: 20_000 });
  });

  it('refuses a SKU not offered, a SKU twice, a quantity out of bounds, an empty pick, a withdrawn or unknown combination', () => {
    const offeredState = comboState([offered]);
    pick.given([]).when((state) => pickCombo(offeredState, state, { ...member, items: [{ skuId: 'tea', quantity: 1, orderId: 'o-tea' }] }, NOW)).thenFails('MALL.COMBO_PICK_INVALID');
    pick.given([]).when((state) => pickCombo(offeredState, state, { ...member, items: [items[0]!, items[0]!] }, NOW)).thenFails('MALL.COMBO_PICK_INVALID');
    pick.given([]).when((state) => pickCombo(offeredState, state, { ...member, items: [{ ...items[2]!, quantity: 11 }] }, NOW)).thenFails('MALL.QUANTITY_INVALID');
    pick.given([]).when((state) => pickCombo(offeredState, state, { ...member, items: [] }, NOW)).thenFails('MALL.COMBO_PICK_INVALID');
    const withdrawn = comboState([offered, { type: 'ComboWithdrawn', data: { comboId: 'spring-2027', withdrawnBy: 'admin-u1' } }]);
    pick.given([]).when((state) => pickCombo(withdrawn, state, { ...member, items }, NOW)).thenFails('MALL.COMBO_WITHDRAWN');
    pick.given([]).when((state) => pickCombo(initialComboState, state, { ...member, items }, NOW)).thenFails('MALL.COMBO_NOT_FOUND');
  });

  it('never folds a second pick into a stream (the log refuses it at no_stream; folding one would be a programmer error)', () => {
    expect(() => pick.given([picked, picked]).state()).toThrow(/picks a combination once/);
  });
});

describe('a combination’s order', () => {
  const listing: SkuListing = { skuId: 'towel', productId: 'towel', productName: '毛巾', name: '毛巾', orgId: 'hn', pricePoints: 10, priceFen: 1800, shards: 2, listedBy: 'admin-hn' };
  it('costs the member nothing and carries its value to the combination at the offer’s unit value', () => {
    const placement = { orderId: 'o-towel', ...member, sku: listing, quantity: 2, fulfilment: 'pickup' as const, addressSealed: null, pickupCodeHash: 'h', pickupCodeSealed: 's', ttlMs: 60_000 };
    const [event] = order.given([]).when((state) => placeOrder(state, { ...placement, combo: { comboId: 'spring-2027', unitFen: 1500 } }, NOW)).result().events;
    expect(event!.data).toMatchObject({ totalPoints: 0, totalFen: 0, combo: { comboId: 'spring-2027', valueFen: 3000 } });
    const [plain] = order.given([]).when((state) => placeOrder(state, placement, NOW)).result().events;
    expect(plain!.data).toMatchObject({ totalPoints: 20, totalFen: 3600 });
    expect(plain!.data).not.toHaveProperty('combo');
  });
});
