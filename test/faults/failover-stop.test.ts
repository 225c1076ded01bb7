/** SIGSTOP of the member in use: left within the bound, and later calls pay nothing. */
import { after, before, test } from "node:test";
import { startCluster, type Cluster } from "../harness/index.js";
import { runScenario } from "./scenario.js";

let cluster: Cluster;
before(async () => {
  cluster = await startCluster({ size: 3 });
});
after(async () => {
  await cluster.stop();
});

test("a SIGSTOPped follower in use is left quickly and later calls are unaffected", async (t) => {
  await runScenario(t, cluster, {
    name: "sigstop follower",
    target: "follower",
    fault: (i) => cluster.member(i).pause(),
    repair: (i) => cluster.member(i).resume(),
    recoveryBoundMs: 3000,
  });
});

test("a SIGSTOPped leader in use is left after one election", async (t) => {
  await runScenario(t, cluster, {
    name: "sigstop leader",
    target: "leader",
    fault: (i) => cluster.member(i).pause(),
    repair: (i) => cluster.member(i).resume(),
    recoveryBoundMs: 6000,
    loadAfterMs: 5000,
  });
});
