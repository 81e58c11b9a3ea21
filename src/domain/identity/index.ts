/** The identity context: WeChat logins bound to members. */
export { claimLogin, evolveLogin, initialLoginState, loginStream, releaseLogin, type LoginEvent, type LoginState } from './login';
