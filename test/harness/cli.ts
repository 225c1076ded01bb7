/*
 * `npm run cluster`: starts a throwaway local etcd cluster for manual testing and keeps it running
 * until Ctrl-C/SIGTERM, then removes every trace of it.
 *   --size 1|3|5   members (default 3)
 *   --tls          serve clients over TLS with a generated CA
 *   --client-cert-auth  also require client certificates (implies --tls)
 *   --auth         enable v2 auth with root password "rootpw"
 */
import { parseArgs } from "node:util";
import { startCluster, type Cluster, type ClusterOptions } from "./index.js";

function options(): ClusterOptions {
  const { values } = parseArgs({
    options: {
      size: { type: "string", default: "3" },
      tls: { type: "boolean", default: false },
      "client-cert-auth": { type: "boolean", default: false },
      auth: { type: "boolean", default: false },
    },
  });
  const size = Number(values.size);
  if (size !== 1 && size !== 3 && size !== 5) throw new Error(`--size must be 1, 3 or 5, not ${values.size}`);
  return { size, tls: values.tls, clientCertAuth: values["client-cert-auth"], auth: values.auth, name: "cli" };
}

function describeCluster(cluster: Cluster): string {
  const lines = [`etcd cluster of ${cluster.size} up in ${cluster.startupMs} ms:`];
  for (const m of cluster.members) lines.push(`  ${m.name}  client ${m.clientUrl}  peer ${m.peerUrl}  pid ${m.pid}  log ${m.logPath}`);
  lines.push("", `export ETCDCTL_ENDPOINTS=${cluster.endpoints().join(",")}`);
  if (cluster.tls !== undefined) {
    lines.push(`export ETCDCTL_CACERT=${cluster.tls.caPath}`);
    lines.push(`export ETCDCTL_CERT=${cluster.tls.certPath} ETCDCTL_KEY=${cluster.tls.keyPath}`);
  }
  if (cluster.rootPassword !== undefined) lines.push(`# v2 auth enabled: user root, password ${cluster.rootPassword}`);
  lines.push("", "Ctrl-C stops the cluster and deletes its data.");
  return lines.join("\n");
}

async function main(): Promise<void> {
  const opts = options();
  const state: { cluster?: Cluster; stopping?: boolean } = {};
  // Our own handlers make the harness leave signals to us (it still cleans up on 'exit').
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal, or one that arrives mid-start, means "now": the exit hook kills what exists.
    const { cluster } = state;
    if (state.stopping === true || cluster === undefined) process.exit(signal === "SIGINT" ? 130 : 143);
    state.stopping = true;
    process.stderr.write(`\n${signal}: stopping the cluster...\n`);
    void cluster.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  state.cluster = await startCluster(opts);
  process.stdout.write(`${describeCluster(state.cluster)}\n`);
  // Member processes are unref'd so tests cannot hang on them; this timer is what keeps us running.
  setInterval(() => undefined, 1 << 30);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
