/** Events the endpoint engine reports through `onEvent` and the logger. */
import type { EtcdError } from "../errors.js";

/** Why a member was set aside. */
export type SetAsideReason = "failed" | "unresponsive" | "no-leader" | "stale";

/** Something the endpoint engine did; delivered to `onEvent`. */
export type EngineEvent =
  | {
      /** The client now sends to `endpoint`. */
      readonly type: "member-chosen";
      /** The member chosen. */
      readonly endpoint: string;
      /** The member used before, if any. */
      readonly previous: string | undefined;
    }
  | {
      /** `endpoint` is skipped until it answers a probe again. */
      readonly type: "member-set-aside";
      /** The member set aside. */
      readonly endpoint: string;
      /** Why it was set aside. */
      readonly reason: SetAsideReason;
      /** The failure that set it aside, when there was one. */
      readonly error?: EtcdError | undefined;
    }
  | {
      /** A member set aside answered a probe and may be used again. */
      readonly type: "member-back";
      /** The member back in use. */
      readonly endpoint: string;
    }
  | {
      /** A failed attempt will be tried again. */
      readonly type: "retry";
      /** The member the failed attempt went to. */
      readonly endpoint: string;
      /** The failed attempt's number, from 1. */
      readonly attempt: number;
      /** Milliseconds before the next attempt. */
      readonly delay: number;
      /** Why the attempt failed. */
      readonly error: EtcdError;
    }
  | {
      /** The member list was refreshed from the cluster. */
      readonly type: "sync";
      /** The endpoints in use after the sync. */
      readonly endpoints: readonly string[];
      /** Endpoints the sync added. */
      readonly added: readonly string[];
      /** Endpoints the sync removed. */
      readonly removed: readonly string[];
    }
  | {
      /**
       * A v3 watch's reader fell behind: its buffer passed its limit (`buffered` events queued), so
       * the watch was canceled on etcd; it is re-created from `resumeRevision` once the reader has
       * drained half of it, and loses nothing.
       */
      readonly type: "slow-consumer";
      /** The watched key (or range start). */
      readonly key: Buffer;
      /** Events queued when the limit was passed. */
      readonly buffered: number;
      /** How many times this watch has overflowed. */
      readonly overflows: number;
      /** The revision the watch resumes from. */
      readonly resumeRevision: bigint;
    };
