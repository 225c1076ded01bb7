#!/usr/bin/env bash
# Proves the published package works as a user gets it: packs a clean clone of HEAD (so only
# committed files count, and `prepare` builds dist/ from them), installs the tarball into a scratch
# app in a temp dir (npm fetches only the tarball's own runtime dependencies), and runs an ESM, a
# CommonJS and a TypeScript consumer (tsc with module nodenext, then with moduleResolution bundler,
# skipLibCheck off and no undici installed) plus the `etcd-ts` bin against one etcd member this
# script starts on loopback ports and kills by PID. Prints the tarball's size and file count.
# Usage: scripts/pack-check.sh   (ETCD_BIN picks the etcd binary; KEEP=1 keeps the temp dir)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/etcd-ts-pack.XXXXXX")
etcd_pid=""
cleanup() {
  if [ -n "$etcd_pid" ]; then kill "$etcd_pid" 2>/dev/null || true; wait "$etcd_pid" 2>/dev/null || true; fi
  if [ "${KEEP:-}" = 1 ]; then echo "pack-check: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# 1. A clean clone of HEAD, packed. Its build borrows this checkout's dev dependencies.
git clone -q --no-local --no-hardlinks "$repo" "$tmp/clone"
ln -s "$repo/node_modules" "$tmp/clone/node_modules"
(cd "$tmp/clone" && npm pack --silent --json --pack-destination "$tmp" >"$tmp/pack.json" 2>"$tmp/pack.log") || { cat "$tmp/pack.log" >&2; exit 1; }
tarball=$(node -e 'const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(p.filename)' "$tmp/pack.json")
node -e '
  const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const kb = (n) => (n / 1024).toFixed(0) + " kB";
  console.log(`pack-check: ${p.filename} from ${process.argv[2]}: ${kb(p.size)} packed, ${kb(p.unpackedSize)} unpacked, ${p.entryCount} files`);
  const stray = p.files.map((f) => f.path).filter((f) => !/^(dist\/|docs\/[^/]+\.md$|README\.md$|LICENSE$|package\.json$)/.test(f));
  if (stray.length > 0) { console.error("pack-check: unexpected files in the tarball: " + stray.join(", ")); process.exit(1); }
  if (!p.files.some((f) => f.path === "dist/esm/index.js") || !p.files.some((f) => f.path === "dist/cjs/index.js")) { console.error("pack-check: no dist/ in the tarball"); process.exit(1); }
' "$tmp/pack.json" "$(git -C "$repo" rev-parse --short HEAD)"

# 2. A scratch app with nothing but the tarball (and, for the TypeScript checks, this checkout's tsc and @types/node).
app="$tmp/app"
mkdir -p "$app"
cd "$app"
echo '{ "name": "scratch-app", "private": true, "version": "1.0.0" }' >package.json
npm install --silent --no-audit --no-fund --prefer-offline "$tmp/$tarball"
if [ -e node_modules/undici ]; then echo "pack-check: undici was installed, but it is no runtime dependency" >&2; exit 1; fi

# 3. One etcd member on free loopback ports (v2 enabled, so the v2 client is checked too).
etcd=${ETCD_BIN:-$(command -v etcd || echo /usr/bin/etcd)}
read -r cport pport < <(node -e '
  const net = require("net");
  const free = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
  Promise.all([free(), free()]).then((ps) => console.log(ps.join(" ")));')
endpoint="http://127.0.0.1:$cport"
"$etcd" --name pack --data-dir "$tmp/etcd-data" --enable-v2=true \
  --listen-client-urls "$endpoint" --advertise-client-urls "$endpoint" \
  --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
  --initial-cluster "pack=http://127.0.0.1:$pport" >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 1 100); do
  if node -e 'fetch(process.argv[1] + "/health").then((r) => r.json()).then((b) => process.exit(b.health === "true" ? 0 : 1), () => process.exit(1))' "$endpoint"; then break; fi
  sleep 0.2
done
export ETCD_ENDPOINTS=$endpoint

# 4. The consumers. Each writes through v3 and v2 and reads the value back.
cat >esm.mjs <<'EOF'
import { EtcdV3Client, EtcdV2Client, EtcdError, isEtcdError, VERSION } from "etcd-ts";
const endpoints = [process.env.ETCD_ENDPOINTS];
const v3 = new EtcdV3Client({ endpoints });
await v3.put("pack/esm", "v3");
const got = (await v3.get("pack/esm")).kvs[0]?.value.toString();
const v2 = new EtcdV2Client({ endpoints });
await v2.set("/pack/esm", "v2");
const node = (await v2.get("/pack/esm")).node;
const missing = await v3.lease.revoke(12345n).catch((e) => e);
await Promise.all([v3.close(), v2.close()]);
if (got !== "v3" || node?.value !== "v2" || !(missing instanceof EtcdError) || !isEtcdError(missing)) throw new Error(`esm: ${got} ${node?.value} ${missing}`);
console.log(`esm ok: etcd-ts ${VERSION}, v3 ${got}, v2 ${node.value}, error ${missing.code}`);
EOF
cat >cjs.cjs <<'EOF'
const { EtcdV3Client, EtcdV2Client, EtcdError } = require("etcd-ts");
(async () => {
  const endpoints = [process.env.ETCD_ENDPOINTS];
  const v3 = new EtcdV3Client({ endpoints });
  await v3.put("pack/cjs", "v3");
  const got = (await v3.get("pack/cjs")).kvs[0]?.value.toString();
  const v2 = new EtcdV2Client({ endpoints });
  await v2.set("/pack/cjs", "v2");
  const node = (await v2.get("/pack/cjs")).node;
  const missing = await v2.get("/pack/none").catch((e) => e);
  await Promise.all([v3.close(), v2.close()]);
  if (got !== "v3" || node?.value !== "v2" || !(missing instanceof EtcdError)) throw new Error(`cjs: ${got} ${node?.value} ${missing}`);
  console.log(`cjs ok: v3 ${got}, v2 ${node.value}, error ${missing.code}`);
})().catch((e) => { console.error(e); process.exit(1); });
EOF
cat >ts.mts <<'EOF'
import { EtcdError, EtcdV2Client, EtcdV3Client, type EtcdV3ClientOptions, type KeyValue, type V3WatchEvent } from "etcd-ts";
const options: EtcdV3ClientOptions = { endpoints: [process.env["ETCD_ENDPOINTS"] ?? ""] };
const v3 = new EtcdV3Client(options);
const v2 = new EtcdV2Client({ endpoints: options.endpoints });
const stop = new AbortController();
const events: V3WatchEvent[] = [];
const watching = (async () => {
  for await (const ev of v3.watch("pack/ts", { signal: stop.signal })) {
    events.push(ev);
    stop.abort();
  }
})().catch((e: unknown) => { if (!stop.signal.aborted) throw e; });
await new Promise((r) => setTimeout(r, 300));
const { header } = await v3.put("pack/ts", "typed");
const kv: KeyValue | undefined = (await v3.get("pack/ts")).kvs[0];
await watching;
await v2.set("/pack/ts", "v2");
const rev: bigint = header.revision;
const err = await v3.lease.revoke(1n).catch((e: unknown) => e);
await Promise.all([v3.close(), v2.close()]);
if (kv?.value.toString() !== "typed" || !(err instanceof EtcdError) || events[0]?.kv.value.toString() !== "typed") throw new Error("ts consumer");
console.log(`ts ok: revision ${rev}, watched ${events.length} event, error ${err.code}`);
EOF
tsc="$repo/node_modules/.bin/tsc"
common=(--strict --skipLibCheck false --target es2022 --typeRoots "$repo/node_modules/@types" --types node)
node esm.mjs
node cjs.cjs
"$tsc" "${common[@]}" --module nodenext --moduleResolution nodenext --outDir out ts.mts
node out/ts.mjs
"$tsc" "${common[@]}" --module esnext --moduleResolution bundler --noEmit ts.mts
echo "ts bundler ok: typechecked with moduleResolution bundler"
"$tsc" "${common[@]}" --module nodenext --moduleResolution nodenext --noEmit --allowJs --checkJs false cjs.cjs
./node_modules/.bin/etcd-ts --endpoints "$endpoint" get pack/cjs --print-value-only | grep -qx v3
ETCDCTL_API=2 ./node_modules/.bin/etcd-ts --endpoints "$endpoint" get /pack/cjs | grep -qx v2
echo "bin ok: etcd-ts get pack/cjs printed v3, and with ETCDCTL_API=2 get /pack/cjs printed v2"
echo "pack-check: passed"
