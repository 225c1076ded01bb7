/** etcd-ts public API: curated exports only, so internal modules can change freely. */
export const VERSION = "0.1.0";

export { EtcdV2Client } from "./v2/client.js";
export type { V2Members } from "./v2/members.js";
export type { WatchOptions, V2WatchEvent, V2ResyncEvent } from "./v2/watch.js";
export type { V2Stats } from "./v2/stats.js";
export type { V2Auth, V2Users, V2Roles } from "./v2/auth.js";
export type { EtcdV2Config, TlsConfig } from "./v2/config.js";
export type {
  AddUserOptions,
  AuthStatus,
  CompareAndSwapOptions,
  CompareOptions,
  CreateOptions,
  DeleteOptions,
  DirOptions,
  EtcdV2ClientOptions,
  FollowerStats,
  GetOptions,
  HealthInfo,
  KvPermissions,
  LeaderStats,
  Member,
  Permission,
  RawOptions,
  RawResponse,
  Role,
  SelfStats,
  SetOptions,
  StoreStats,
  TtlOptions,
  User,
  V2Node,
  V2Response,
  VersionInfo,
} from "./v2/types.js";

export { EtcdError, canRetry, isEtcdError } from "./errors.js";
export type { Delivery, EtcdErrorCode, EtcdErrorFields } from "./errors.js";
export { DEFAULTS } from "./options.js";
export type { AuthOptions, CallOptions, Consistency, EngineOptions, Logger, TlsOptions } from "./options.js";
export { defaultCheckRetry } from "./endpoints/retry.js";
export type { CheckRetry, RetryContext, RetryDecision } from "./endpoints/retry.js";
export type { EngineEvent, SetAsideReason } from "./endpoints/events.js";
export type { HttpMethod } from "./transport/http.js";
