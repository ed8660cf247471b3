export { type Config, loadConfig, OPTIONS } from "./config.js";
export { DuetError, ERRORS, type ErrorCode } from "./core/errors.js";
export type { Store } from "./core/ports/store.js";
export type * from "./core/types.js";
export { createLogger } from "./log.js";
export { type RunningServer, startServer } from "./server.js";
