/** Events the endpoint engine reports through `onEvent` and the logger. */
import type { EtcdError } from "../errors.js";

/** Why a member was set aside. */
export type SetAsideReason = "failed" | "unresponsive" | "no-leader" | "stale";

/** Something the endpoint engine did; delivered to `onEvent`. */
export type EngineEvent =
  | { readonly type: "member-chosen"; readonly endpoint: string; readonly previous: string | undefined }
  | { readonly type: "member-set-aside"; readonly endpoint: string; readonly reason: SetAsideReason; readonly error?: EtcdError | undefined }
  | { readonly type: "member-back"; readonly endpoint: string }
  | { readonly type: "retry"; readonly endpoint: string; readonly attempt: number; readonly delay: number; readonly error: EtcdError }
  | { readonly type: "sync"; readonly endpoints: readonly string[]; readonly added: readonly string[]; readonly removed: readonly string[] }
  /**
   * A v3 watch's reader fell behind: its buffer passed its limit (`buffered` events queued), so
   * the watch was canceled on etcd; it is re-created from `resumeRevision` once the reader has
   * drained half of it, and loses nothing. `overflows` counts these for this watch.
   */
  | { readonly type: "slow-consumer"; readonly key: Buffer; readonly buffered: number; readonly overflows: number; readonly resumeRevision: bigint };
