/** The mall context over HTTP. */
export { MallModule } from './mall.module';
