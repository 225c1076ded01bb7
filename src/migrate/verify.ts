/**
 * Key-by-key comparison of a v2 tree with its v3 copy: values, and whether a TTL (v2) is matched
 * by a lease (v3). Keys in the v3 range with no v2 source are differences too: after a complete
 * migration the copy's range holds exactly the copied tree.
 */
import type { EtcdV3Client } from "../v3/client.js";
import { readDest, sameAs } from "./dest.js";
import type { KeyMap, SourceTree } from "./tree.js";

/** One way the two sides differ. */
export interface Difference {
  /** The v2 key (for a key only in v3: the v2 key it would have come from). */
  readonly key: string;
  /** The v3 key. */
  readonly destKey: string;
  /** "missing" in v3, "value" differs, "lease" presence differs from the TTL's, or "extra": only in v3. */
  readonly kind: "missing" | "value" | "lease" | "extra";
}

/** Compares a source tree with the destination's range; sorted by key. */
export async function compareTrees(tree: SourceTree, dest: EtcdV3Client, keys: KeyMap, signal: AbortSignal | undefined): Promise<Difference[]> {
  const found = new Map((await readDest(dest, keys, signal)).map((kv) => [kv.key.toString("utf8"), kv]));
  const out: Difference[] = [];
  for (const leaf of tree.leaves.values()) {
    const destKey = keys.dest(leaf.key);
    const kv = found.get(destKey);
    found.delete(destKey);
    if (kv === undefined) out.push({ key: leaf.key, destKey, kind: "missing" });
    else if (!kv.value.equals(leaf.bytes)) out.push({ key: leaf.key, destKey, kind: "value" });
    else if (!sameAs(kv, leaf)) out.push({ key: leaf.key, destKey, kind: "lease" });
  }
  for (const destKey of found.keys()) out.push({ key: keys.source(destKey), destKey, kind: "extra" });
  return out.sort((a, b) => (a.destKey < b.destKey ? -1 : a.destKey > b.destKey ? 1 : 0));
}
