/** The mall context's use cases: catalogue, sharded stock, orders and their settlement, the sweep. */
export { DEFAULT_MALL_SETTINGS, Mall, type Caller, type MallDeps, type MallSettings, type OrderView } from './mall-service';
export { WelfareCombos, type ComboView, type PickView } from './combos';
