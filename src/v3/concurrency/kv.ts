/**
 * The part of the v3 client that the concurrency recipes (session, mutex, election, STM) use.
 * They are written against this surface rather than the client class, so a namespace, which
 * prefixes every key and strips it from every reply, can stand in for the client unchanged.
 */
import type { EtcdV3Client } from "../client.js";

/** The v3 client's key-value, transaction, watch and lease surface. */
export type KvClient = Pick<EtcdV3Client, "get" | "put" | "delete" | "txn" | "watch" | "getAll" | "lease">;
