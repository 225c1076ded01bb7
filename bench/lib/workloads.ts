/**
 * The workloads, as one operation per client. v2: GET served from the member's local store
 * (weak), GET through raft (quorum), and set of one of 1,000 keys. v3: put of one of 1,000 keys,
 * and a range read of one key, linearizable and serializable. Every reply is parsed and checked,
 * as an application would.
 */
import { Etcd3 } from "etcd3";
import { Pool } from "undici";
import { EtcdV2Client } from "../../src/index.js";
import { call, nodeEtcd } from "./node-etcd.js";
import type { Op } from "./phase.js";
import type { V3ClientConstructor } from "./v3.js";

/** The v2 workloads, in table order. */
export const V2_WORKLOADS = ["get-local", "get-quorum", "set"] as const;
/** The v3 workloads, in table order. */
export const V3_WORKLOADS = ["v3-put", "v3-range-linearizable", "v3-range-serializable"] as const;
/** Every workload, in table order. */
export const WORKLOADS = [...V2_WORKLOADS, ...V3_WORKLOADS] as const;
export type V2Workload = (typeof V2_WORKLOADS)[number];
export type V3Workload = (typeof V3_WORKLOADS)[number];
export type Workload = V2Workload | V3Workload;

/** True for the v3 (gRPC) workloads. */
export function isV3(workload: Workload): workload is V3Workload {
  return (V3_WORKLOADS as readonly string[]).includes(workload);
}

/** The Node clients compared: etcd-ts and its peers (node-etcd speaks v2 only, etcd3 v3 only). */
export const NODE_CLIENTS = ["etcd-ts", "node-etcd", "etcd3"] as const;
/** Also available with `--clients`: a bare undici Pool, the floor any undici-based client sits on. */
export type NodeClient = (typeof NODE_CLIENTS)[number] | "undici-raw";

/** Whether `client` (a Node client, "go", "wrk" or "h2load") can run `workload`. */
export function supports(client: string, workload: Workload): boolean {
  if (client === "etcd-ts" || client === "go") return true;
  return client === "etcd3" || client === "h2load" ? isV3(workload) : !isV3(workload);
}

/** A 100-byte value. */
export const VALUE = "v".repeat(100);

/** Where each v2 workload reads or writes, under a per-run prefix. */
export function paths(prefix: string): { readKey: string; writeKey: (i: number) => string } {
  return { readKey: `${prefix}/k`, writeKey: (i) => `${prefix}/k${i % 1000}` };
}

/** Where each v3 workload reads or writes: the same shape, in v3's key space (separate from v2's). */
export function v3Paths(prefix: string): { readKey: string; writeKey: (i: number) => string } {
  return { readKey: `${prefix}/v3/k`, writeKey: (i) => `${prefix}/v3/k${i % 1000}` };
}

/** A client ready to run workloads, and how to close it. */
export interface Bench {
  op(workload: Workload): Op;
  close(): Promise<void>;
}

function unsupported(client: string, workload: Workload): never {
  throw new Error(`${client} does not run ${workload}`);
}

/** Passes the value read through, or throws when it is not what the benchmark wrote. */
function checkValue(value: unknown): unknown {
  if (value !== VALUE) throw new Error(`read back ${typeof value === "string" ? `${value.length} bytes` : typeof value}, not the value written`);
  return value;
}

/**
 * etcd-ts with default options, first on `pin` (one weak-consistency client for local reads).
 * The v3 client is made only when a v3 workload runs and `EtcdV3Client` was found (see v3.ts).
 */
export function etcdTsBench(endpoints: readonly string[], pin: string, prefix: string, V3?: V3ClientConstructor): Bench {
  const make = (consistency: "strong" | "weak"): EtcdV2Client => {
    // ETCD_TS_BENCH_CONNECTIONS and ETCD_TS_BENCH_MAX_CONNECTIONS try other pool sizes (docs/performance.md, "h1 pool at 256 in flight").
    const { ETCD_TS_BENCH_CONNECTIONS: cap, ETCD_TS_BENCH_MAX_CONNECTIONS: burst } = process.env;
    const pool = { ...(cap === undefined ? {} : { connections: Number(cap) }), ...(burst === undefined ? {} : { maxConnections: Number(burst) }) };
    const client = new EtcdV2Client({ endpoints: [pin], consistency, ...pool });
    client.setEndpoints(endpoints);
    return client;
  };
  const strong = make("strong");
  const weak = make("weak");
  const { readKey, writeKey } = paths(prefix);
  // Starts on the same member as the v2 clients; the rest follow in the order given.
  const v3 = V3 === undefined ? undefined : new V3({ endpoints: [pin, ...endpoints.filter((e) => e !== pin)] });
  const k3 = v3Paths(prefix);
  const v3op = (workload: Workload): Op => {
    if (v3 === undefined) throw new Error("EtcdV3Client is not available: the etcd-ts v3 rows cannot run");
    switch (workload) {
      case "v3-put":
        return (i) => v3.put(k3.writeKey(i), VALUE);
      case "v3-range-linearizable":
        return async () => checkValue((await v3.get(k3.readKey, { serializable: false })).kvs[0]?.value.toString());
      case "v3-range-serializable":
        return async () => checkValue((await v3.get(k3.readKey, { serializable: true })).kvs[0]?.value.toString());
      default:
        return unsupported("etcd-ts v3", workload);
    }
  };
  return {
    op: (workload) => {
      switch (workload) {
        case "get-local":
          return async () => checkValue((await weak.get(readKey)).node?.value);
        case "get-quorum":
          return async () => checkValue((await strong.get(readKey)).node?.value);
        case "set":
          return (i) => strong.set(writeKey(i), VALUE);
        default:
          return v3op(workload);
      }
    },
    close: async () => {
      await Promise.all([strong.close(), weak.close(), v3?.close()]);
    },
  };
}

/**
 * etcd3 (the most used v3 client in Node, on @grpc/grpc-js) with default options on every
 * member, as its users configure it (each call goes to a member picked from a fresh shuffle, like node-etcd).
 */
export function etcd3Bench(endpoints: readonly string[], prefix: string): Bench {
  const client = new Etcd3({ hosts: [...endpoints] });
  const { readKey, writeKey } = v3Paths(prefix);
  return {
    op: (workload) => {
      switch (workload) {
        case "v3-put":
          return (i) => client.put(writeKey(i)).value(VALUE).exec();
        case "v3-range-linearizable":
          return async () => checkValue(await client.get(readKey).string());
        case "v3-range-serializable":
          return async () => checkValue(await client.get(readKey).serializable(true).string());
        default:
          return unsupported("etcd3", workload);
      }
    },
    close: () => {
      client.close();
      return Promise.resolve();
    },
  };
}

/** node-etcd with default options on every member (it picks one at random per request). */
export function nodeEtcdBench(endpoints: readonly string[], prefix: string): Bench {
  const etcd = nodeEtcd(endpoints);
  const { readKey, writeKey } = paths(prefix);
  const value = (body: unknown): unknown => (body as { node?: { value?: unknown } } | undefined)?.node?.value;
  return {
    op: (workload) => {
      switch (workload) {
        case "get-local":
          return async () => checkValue(value(await call((cb) => etcd.get(readKey, {}, cb))));
        case "get-quorum":
          return async () => checkValue(value(await call((cb) => etcd.get(readKey, { quorum: true }, cb))));
        case "set":
          return (i) => call((cb) => etcd.set(writeKey(i), VALUE, {}, cb));
        default:
          return unsupported("node-etcd", workload);
      }
    },
    close: () => Promise.resolve(),
  };
}

/**
 * The least an undici-based client can do: one Pool (64 connections, no pipelining), the reply
 * read as text and parsed. The gap between this and etcd-ts is etcd-ts's own cost.
 */
export function undiciRawBench(pin: string, prefix: string): Bench {
  const pool = new Pool(pin, { connections: 64, pipelining: 1 });
  const { readKey, writeKey } = paths(prefix);
  const get = async (path: string): Promise<unknown> => {
    const res = await pool.request({ method: "GET", path });
    const body = JSON.parse(await res.body.text()) as { node?: { value?: unknown } };
    return checkValue(body.node?.value);
  };
  const headers = { "content-type": "application/x-www-form-urlencoded" };
  const body = `value=${VALUE}`;
  return {
    op: (workload) => {
      switch (workload) {
        case "get-local":
          return () => get(`/v2/keys${readKey}`);
        case "get-quorum":
          return () => get(`/v2/keys${readKey}?quorum=true`);
        case "set":
          return async (i) => JSON.parse(await (await pool.request({ method: "PUT", path: `/v2/keys${writeKey(i)}`, headers, body })).body.text()) as unknown;
        default:
          return unsupported("undici-raw", workload);
      }
    },
    close: () => pool.close(),
  };
}
