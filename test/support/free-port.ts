// A free local port, for tests outside the stack (core's own tests must not import stack/).
export { findFreePort } from '../../stack/service.ts';
