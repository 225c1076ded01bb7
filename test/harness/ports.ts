import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const LOW = 15000;

/**
 * Ports below the kernel's ephemeral range. Port 0 would hand us an ephemeral port, and while a
 * member is killed for a restart test any outgoing connection on the machine (the other members
 * redial it constantly) may take that very port as its source port, so the restart would fail with
 * "address already in use". Ports outside the ephemeral range are never picked that way.
 */
function candidateRange(): [number, number] {
  try {
    const [min] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const ephemeralMin = Number(min);
    if (Number.isInteger(ephemeralMin) && ephemeralMin - 1 - LOW >= 2000) return [LOW, ephemeralMin - 1];
  } catch {
    // Not Linux, or /proc is hidden: fall through to the kernel's choice.
  }
  return [0, 0];
}

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => {
      resolve(undefined);
    });
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      const address = server.address();
      const got = typeof address === "object" && address !== null ? address.port : undefined;
      server.close(() => {
        resolve(got);
      });
    });
  });
}

/**
 * Returns `count` distinct loopback ports that were free a moment ago; callers must still tolerate
 * losing a race for them to another process.
 */
export async function freePorts(count: number): Promise<number[]> {
  const [low, high] = candidateRange();
  const ports = new Set<number>();
  for (let attempts = 0; ports.size < count; attempts++) {
    if (attempts > count * 50) throw new Error(`could not find ${count} free loopback ports`);
    const wanted = high === 0 ? 0 : low + Math.floor(Math.random() * (high - low + 1));
    if (ports.has(wanted)) continue;
    const got = await tryListen(wanted);
    if (got !== undefined && !ports.has(got)) ports.add(got);
  }
  return [...ports];
}
