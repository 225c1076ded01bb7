/**
 * The three v2 workloads, as one operation per client: GET served from the member's local store
 * (weak), GET through raft (quorum), and set of one of 1,000 keys. Every reply is parsed and
 * checked, as an application would.
 */
import { Pool } from "undici";
import { EtcdV2Client } from "../../src/index.js";
import { call, nodeEtcd } from "./node-etcd.js";
import type { Op } from "./phase.js";

/** The workloads, in table order. */
export const WORKLOADS = ["get-local", "get-quorum", "set"] as const;
export type Workload = (typeof WORKLOADS)[number];

/** The Node clients compared. */
export const NODE_CLIENTS = ["etcd-ts", "node-etcd"] as const;
/** Also available with `--clients`: a bare undici Pool, the floor any undici-based client sits on. */
export type NodeClient = (typeof NODE_CLIENTS)[number] | "undici-raw";

/** A 100-byte value. */
export const VALUE = "v".repeat(100);

/** Where each workload reads or writes, under a per-run prefix. */
export function paths(prefix: string): { readKey: string; writeKey: (i: number) => string } {
  return { readKey: `${prefix}/k`, writeKey: (i) => `${prefix}/k${i % 1000}` };
}

/** A client ready to run workloads, and how to close it. */
export interface Bench {
  op(workload: Workload): Op;
  close(): Promise<void>;
}

/** Passes the value read through, or throws when it is not what the benchmark wrote. */
function checkValue(value: unknown): unknown {
  if (value !== VALUE) throw new Error(`read back ${typeof value === "string" ? `${value.length} bytes` : typeof value}, not the value written`);
  return value;
}

/** etcd-ts with default options, first on `pin` (one weak-consistency client for local reads). */
export function etcdTsBench(endpoints: readonly string[], pin: string, prefix: string): Bench {
  const make = (consistency: "strong" | "weak"): EtcdV2Client => {
    const client = new EtcdV2Client({ endpoints: [pin], consistency });
    client.setEndpoints(endpoints);
    return client;
  };
  const strong = make("strong");
  const weak = make("weak");
  const { readKey, writeKey } = paths(prefix);
  return {
    op: (workload) => {
      switch (workload) {
        case "get-local":
          return async () => checkValue((await weak.get(readKey)).node?.value);
        case "get-quorum":
          return async () => checkValue((await strong.get(readKey)).node?.value);
        case "set":
          return (i) => strong.set(writeKey(i), VALUE);
      }
    },
    close: async () => {
      await Promise.all([strong.close(), weak.close()]);
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
      }
    },
    close: () => pool.close(),
  };
}
