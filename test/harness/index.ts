/** Public API of the etcd test harness: real etcd clusters with kill/pause/partition faults. */
export { startCluster, Cluster, type ClusterOptions } from "./cluster.js";
export { Member, MemberStartError } from "./member.js";
export { partitionSupport, PartitionUnsupportedError, type PartitionSupport } from "./partition.js";
export { etcdBin, etcdVersion } from "./etcd-bin.js";
export { request, RequestError, type RequestOptions, type RequestTls, type HttpResponse } from "./http.js";
export { sweepStale } from "./registry.js";
export { isAlive, sleep } from "./proc.js";
export { listOurRules } from "./iptables.js";
export type { ClusterTls } from "./tls.js";
