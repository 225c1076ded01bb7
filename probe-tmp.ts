import { startCluster } from "./test/harness/index.js";
import { EtcdV2Client } from "./src/index.js";
const c = await startCluster({ size: 1, name: "probe" });
try {
  for (const consistency of ["weak", "strong"] as const) {
    const client = new EtcdV2Client({ endpoints: c.endpoints(), consistency });
    await client.set("/p/k", "v".repeat(100));
    const lat: number[] = [];
    for (let i = 0; i < 300; i++) { const t = performance.now(); await client.get("/p/k"); lat.push(performance.now() - t); }
    lat.sort((a, b) => a - b);
    console.log(consistency, lat[150]?.toFixed(2), lat[297]?.toFixed(2), lat.slice(0, 5).map(x=>x.toFixed(2)).join(","));
    await client.close();
  }
} finally { await c.stop(); }
