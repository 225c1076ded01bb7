/** The endpoint engine's public pieces. */
export { EndpointEngine } from "./engine.js";
export type { Operation, Progress, Prober, ProbeVerdict, EngineConfig } from "./engine.js";
export { defaultCheckRetry, backoffDelay } from "./retry.js";
export type { CheckRetry, RetryContext, RetryDecision } from "./retry.js";
export type { EngineEvent, SetAsideReason } from "./events.js";
