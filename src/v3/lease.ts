// PLACEHOLDER: being written by a helper; replaced before commit.
import type { V3Rpc } from "./rpc.js";
/** Leases. */
export class V3Lease {
  constructor(rpc: V3Rpc) {
    void rpc;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
