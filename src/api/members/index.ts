/** The members context over HTTP. */
export { MembersModule } from './members.module';
