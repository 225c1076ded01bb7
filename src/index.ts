/** etcd-ts public API: curated exports only, so internal modules can change freely. */
export { VERSION } from "./version.js";

export { EtcdV2Client } from "./v2/client.js";
export type { V2Members } from "./v2/members.js";
export type { WatchOptions, V2WatchEvent, V2ResyncEvent } from "./v2/watch.js";
export type { V2Stats } from "./v2/stats.js";
export type { V2Auth, V2Users, V2Roles } from "./v2/auth.js";
export type { EtcdV2Config, TlsConfig } from "./v2/config.js";
export type { V2Dispatcher } from "./transport/http.js";
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
export type { Delivery, EtcdErrorCode, EtcdErrorFields, MemberHealth } from "./errors.js";
export type { Repeat } from "./errors.js";
export { DEFAULTS } from "./options.js";
export type { AuthOptions, CallOptions, Consistency, EngineOptions, Logger, TlsOptions } from "./options.js";
export { defaultCheckRetry } from "./endpoints/retry.js";
export type { CheckRetry, RetryContext, RetryDecision } from "./endpoints/retry.js";
export type { EngineEvent, SetAsideReason } from "./endpoints/events.js";
export type { HttpMethod } from "./transport/http.js";

export { EtcdV3Client } from "./v3/client.js";
export type {
  Bytes,
  CompactOptions,
  CompactResult,
  Compare,
  CompareResult,
  CompareTarget,
  DeleteOptions as V3DeleteOptions,
  DeleteResult as V3DeleteResult,
  EtcdV3ClientOptions,
  GetAllOptions,
  GetOptions as V3GetOptions,
  GetResult as V3GetResult,
  KeyValue,
  PutOptions as V3PutOptions,
  PutResult as V3PutResult,
  RangeOptions,
  ResponseHeader,
  SortOrder,
  SortTarget,
  TxnDelete,
  TxnGet,
  TxnOp,
  TxnOpResult,
  TxnPut,
  TxnResult,
  TxnSpec,
} from "./v3/types.js";
export type { V3WatchEvent, V3WatchOptions } from "./v3/watch.js";
export type { V3Watch, V3WatchEnd } from "./v3/watch.js";
export type { V3Auth, V3Users, V3Roles } from "./v3/auth.js";
export type { AuthStatusResult } from "./v3/auth.js";
export type {
  AddUserOptions as V3AddUserOptions,
  AuthResult,
  AuthenticateResult,
  PermissionGrant,
  PermissionRange,
  PermissionType,
  RoleListResult,
  RolePermission,
  RoleResult,
  UserListResult,
  UserResult,
} from "./v3/auth.js";
export type { V3Cluster, ClusterMember, MemberAddOptions, MemberAddResult, MemberListResult } from "./v3/cluster.js";
export type { V3Maintenance, Alarm, AlarmKind, AlarmResult, HashKVResult, MaintenanceResult, MemberStatus } from "./v3/maintenance.js";
export type { SnapshotStream, SnapshotOptions, SnapshotFileOptions, SnapshotFileResult, SnapshotProgress } from "./v3/snapshot.js";
export type {
  V3Lease,
  LeaseGrantOptions,
  LeaseGrantResult,
  LeaseRevokeResult,
  LeaseTimeToLiveOptions,
  LeaseTimeToLiveResult,
  LeaseListResult,
  LeaseKeepAliveResult,
  LeaseKeepAlive,
  LeaseKeepAliveOptions,
} from "./v3/lease.js";
export type { StmIsolation, StmOptions, StmPutOptions, StmTx } from "./v3/concurrency/stm.js";
export type { Namespace } from "./v3/concurrency/namespace.js";
export type { KvClient } from "./v3/concurrency/kv.js";
export { Session } from "./v3/concurrency/session.js";
export type { SessionOptions } from "./v3/concurrency/session.js";
export { Mutex, Lock } from "./v3/concurrency/mutex.js";
export type { MutexOptions, LockOptions, WithLockOptions } from "./v3/concurrency/mutex.js";
export { Election, Leadership } from "./v3/concurrency/election.js";
export type { ElectionOptions, CampaignOptions, ObserveOptions, LeaderInfo } from "./v3/concurrency/election.js";
export type { TxnOptions } from "./v3/types.js";

export { migrateV2ToV3, verifyV2ToV3 } from "./migrate/index.js";
export type { Difference, MigrateV2ToV3Options, MigrationConflict, MigrationPhase, MigrationProgress, MigrationReport, SkippedKey } from "./migrate/index.js";
export { toJsonSafe } from "./v3/json-form.js";
export type { JsonSafe } from "./v3/json-form.js";
export type { PrefixMapOptions, ValueForm, ValueOf, ValueReadOptions } from "./v3/values.js";
