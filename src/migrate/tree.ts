/**
 * The v2 side of a migration: reading a tree at one index and flattening it into leaves, and
 * the mapping from a v2 key to its v3 key. v2 directories are not keys in v3, so only leaves
 * travel; an empty directory has nothing to carry and is listed in the report instead.
 */
import { EtcdError } from "../errors.js";
import type { EtcdV2Client } from "../v2/client.js";
import type { V2Node } from "../v2/types.js";

/** One v2 key with a value, as the migration copies it. */
export interface V2Leaf {
  /** The v2 key, e.g. "/app/a". */
  readonly key: string;
  /** The value (v2 values are text; v3 gets the same UTF-8 bytes). */
  readonly value: string;
  /** The value's UTF-8 bytes, encoded once. */
  readonly bytes: Buffer;
  /** Seconds left before it expires, when it has a TTL. */
  readonly ttl?: number | undefined;
  /** When it expires (ms since the epoch), when it has a TTL. */
  readonly expiresAt?: number | undefined;
  /** The v2 index of its last change. */
  readonly modifiedIndex: number;
}

/** A v2 tree read at one index. */
export interface SourceTree {
  /** The v2 store index the tree was read at (its `X-Etcd-Index`). */
  readonly index: number;
  /** Every leaf, by v2 key. */
  readonly leaves: Map<string, V2Leaf>;
  /** Directories with nothing under them (they have no v3 form). */
  readonly emptyDirs: string[];
}

/** Maps v2 keys under `prefix` to v3 keys under `destPrefix` (the prefix replaced, as make-mirror does). */
export class KeyMap {
  /** The v2 prefix copied. */
  readonly prefix: string;
  /** What replaces it in v3. */
  readonly destPrefix: string;

  /** `prefix` is normalised to a leading "/" and no trailing one; `destPrefix` defaults to it. */
  constructor(prefix: string, destPrefix?: string) {
    this.prefix = normalise(prefix);
    this.destPrefix = destPrefix ?? this.prefix;
  }

  /** Whether a v2 key is the prefix itself or below it. */
  covers(v2Key: string): boolean {
    return v2Key === this.prefix || v2Key.startsWith(`${this.prefix}/`);
  }

  /** The v3 key of a v2 key at or below the prefix. */
  dest(v2Key: string): string {
    if (!this.covers(v2Key)) throw new EtcdError("INVALID_ARGUMENT", `${v2Key} is not under the migrated prefix ${this.prefix || "/"}`);
    return this.destPrefix + v2Key.slice(this.prefix.length);
  }

  /** The v2 key of a v3 key in the copy (the inverse of `dest`). */
  source(destKey: string): string {
    return this.prefix + destKey.slice(this.destPrefix.length);
  }

  /** Whether a v3 key belongs to the copy: the destination prefix itself or below it. */
  destCovers(destKey: string): boolean {
    return destKey === this.destPrefix || destKey.startsWith(`${this.destPrefix}/`);
  }
}

/** "/" and "" mean the whole store; otherwise one leading slash and none trailing. */
function normalise(prefix: string): string {
  const trimmed = prefix.replace(/\/+$/, "");
  if (trimmed === "") return "";
  return trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

/** Reads `key` recursively with a quorum read and flattens it; a missing key is an empty tree at the current index. */
export async function readTree(client: EtcdV2Client, key: string, signal: AbortSignal | undefined): Promise<SourceTree> {
  const leaves = new Map<string, V2Leaf>();
  const emptyDirs: string[] = [];
  try {
    const reply = await client.get(key === "" ? "/" : key, { recursive: true, quorum: true, signal });
    if (reply.node !== undefined) flatten(reply.node, leaves, emptyDirs, Date.now());
    return { index: reply.etcdIndex, leaves, emptyDirs };
  } catch (error) {
    if (error instanceof EtcdError && error.code === "KEY_NOT_FOUND" && error.index !== undefined) return { index: error.index, leaves, emptyDirs };
    throw error;
  }
}

/** Adds a node's leaves (and empty directories) to the maps; iterative, so deep trees can't overflow the stack. */
export function flatten(root: V2Node, leaves: Map<string, V2Leaf>, emptyDirs: string[], now: number): void {
  const stack: V2Node[] = [root];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.dir === true) {
      const children = node.nodes ?? [];
      // The root ("/") is a directory without a key of its own; it is never reported as empty.
      if (children.length === 0 && node.key !== "/" && node.key !== "") emptyDirs.push(node.key);
      for (const child of children) stack.push(child);
      continue;
    }
    leaves.set(node.key, leafOf(node, now));
  }
}

/** The leaf form of a v2 node that holds a value. */
export function leafOf(node: V2Node, now: number): V2Leaf {
  const value = node.value ?? "";
  const bytes = Buffer.from(value);
  if (node.ttl === undefined || node.ttl <= 0) return { key: node.key, value, bytes, modifiedIndex: node.modifiedIndex };
  const parsed = node.expiration === undefined ? Number.NaN : Date.parse(node.expiration);
  const expiresAt = Number.isFinite(parsed) ? parsed : now + node.ttl * 1000;
  return { key: node.key, value, bytes, ttl: node.ttl, expiresAt, modifiedIndex: node.modifiedIndex };
}

/** Whether a v2 key is hidden (a path element starting with "_"): v2 lists and recursive watches skip it. */
export function isHidden(key: string): boolean {
  return key.split("/").some((part) => part.startsWith("_"));
}
