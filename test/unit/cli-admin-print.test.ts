/**
 * The admin commands' printers with no server: each expected text is what etcdctl 3.4 or 3.5
 * (`ETCDCTL_API=3`) printed for the same reply on a live 3-member cluster, captured from a real
 * run, plus the Go formatting helpers they rest on (humanize.Bytes, Duration.String, strconv).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { goJson } from "../../src/cli/shared/gojson.js";
import { renderTable } from "../../src/cli/shared/table.js";
import { goDuration, goParse } from "../../src/cli/v3/admin-args.js";
import { roleGetSimple } from "../../src/cli/v3/print-auth.js";
import { endpointHealthSimple, endpointStatusRendering, humanBytes, memberAddRendering, memberListRendering } from "../../src/cli/v3/print-cluster.js";
import { grantRendering, leasesRendering, timeToLiveRendering } from "../../src/cli/v3/print-lease.js";
import type { Rendering } from "../../src/cli/v3/printers.js";
import type { MemberListResult } from "../../src/v3/cluster.js";
import type { MemberStatus } from "../../src/v3/maintenance.js";

const header = { clusterId: 10122332422856391550n, memberId: 13789684189917860719n, revision: 2n, raftTerm: 2n };
const members: MemberListResult = {
  header: { ...header, revision: 0n },
  members: [
    { id: 542666612404858079n, name: "cli-0", peerUrls: ["http://127.0.0.1:15650"], clientUrls: ["http://127.0.0.1:27843"], isLearner: false },
    { id: 13789684189917860719n, name: "cli-2", peerUrls: ["http://127.0.0.1:29416"], clientUrls: ["http://127.0.0.1:19322"], isLearner: false },
    { id: 13826238201777578993n, name: "cli-1", peerUrls: ["http://127.0.0.1:30816"], clientUrls: ["http://127.0.0.1:25674"], isLearner: false },
  ],
};

function json(r: Rendering): string {
  assert.ok(r.json !== undefined);
  return goJson(r.json());
}

describe("member printers (etcdctl 3.5 output)", () => {
  it("simple: %x IDs, no padding", () => {
    assert.equal(
      memberListRendering(members, false).simple?.(),
      "787f068a7db2cdf, started, cli-0, http://127.0.0.1:15650, http://127.0.0.1:27843, false\n" +
        "bf5eccb5b8dfd36f, started, cli-2, http://127.0.0.1:29416, http://127.0.0.1:19322, false\n" +
        "bfe0aa63d4e363f1, started, cli-1, http://127.0.0.1:30816, http://127.0.0.1:25674, false\n",
    );
  });

  it("json: 64-bit IDs as exact numbers, revision 0 and isLearner false left out", () => {
    assert.equal(
      json(memberListRendering({ ...members, header: { ...header, revision: 0n } }, false)),
      '{"header":{"cluster_id":10122332422856391550,"member_id":13789684189917860719,"raft_term":2},"members":[{"ID":542666612404858079,"name":"cli-0","peerURLs":["http://127.0.0.1:15650"],"clientURLs":["http://127.0.0.1:27843"]},{"ID":13789684189917860719,"name":"cli-2","peerURLs":["http://127.0.0.1:29416"],"clientURLs":["http://127.0.0.1:19322"]},{"ID":13826238201777578993,"name":"cli-1","peerURLs":["http://127.0.0.1:30816"],"clientURLs":["http://127.0.0.1:25674"]}]}',
    );
  });

  it("json with --hex: etcdctl 3.5's hand-written form (IDs as hex strings, `clientURLS`)", () => {
    assert.equal(
      json(memberListRendering({ ...members, header: { ...header, memberId: 13826238201777578993n } }, true)),
      '{"header":{"cluster_id":"8c79bfb54ac63b7e","member_id":"bfe0aa63d4e363f1","raft_term":2},"members":[{"ID":"787f068a7db2cdf","name":"cli-0","peerURLs":["http://127.0.0.1:15650"],"clientURLS":["http://127.0.0.1:27843"]},{"ID":"bf5eccb5b8dfd36f","name":"cli-2","peerURLs":["http://127.0.0.1:29416"],"clientURLS":["http://127.0.0.1:19322"]},{"ID":"bfe0aa63d4e363f1","name":"cli-1","peerURLs":["http://127.0.0.1:30816"],"clientURLS":["http://127.0.0.1:25674"]}]}',
    );
  });

  it("table: centred titles, right-aligned cells", () => {
    assert.equal(
      memberListRendering(members, false).table?.(),
      [
        "+------------------+---------+-------+------------------------+------------------------+------------+",
        "|        ID        | STATUS  | NAME  |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |",
        "+------------------+---------+-------+------------------------+------------------------+------------+",
        "|  787f068a7db2cdf | started | cli-0 | http://127.0.0.1:15650 | http://127.0.0.1:27843 |      false |",
        "| bf5eccb5b8dfd36f | started | cli-2 | http://127.0.0.1:29416 | http://127.0.0.1:19322 |      false |",
        "| bfe0aa63d4e363f1 | started | cli-1 | http://127.0.0.1:30816 | http://127.0.0.1:25674 |      false |",
        "+------------------+---------+-------+------------------------+------------------------+------------+",
        "",
      ].join("\n"),
    );
  });

  it("member add: %16x pads a 15-digit ID with a space", () => {
    const added = { ...members, member: { id: 542666612404858079n, name: "", peerUrls: ["http://127.0.0.3:2380"], clientUrls: [], isLearner: true } };
    assert.equal(memberAddRendering(added).simple?.(), "Member  787f068a7db2cdf added to cluster 8c79bfb54ac63b7e\n");
  });
});

describe("endpoint printers", () => {
  const status = (memberId: bigint, leader: bigint, dbSize: bigint): MemberStatus => ({
    header: { clusterId: 11332702302681778833n, memberId, revision: 1n, raftTerm: 2n },
    version: "3.4.23",
    dbSize,
    leader,
    raftIndex: 44n,
    raftTerm: 2n,
    raftAppliedIndex: 44n,
    errors: [],
    dbSizeInUse: 16384n,
    isLearner: false,
  });
  const list = [
    { endpoint: "http://127.0.0.1:19649", status: status(17803001629865644197n, 17803001629865644197n, 20480n) },
    { endpoint: "http://127.0.0.1:17300", status: status(11587590211470850426n, 17803001629865644197n, 20480n) },
  ];

  it("status simple and table as etcdctl 3.4 printed them", () => {
    const r = endpointStatusRendering(list);
    assert.equal(r.simple?.(), "http://127.0.0.1:19649, f710f7a873d790a5, 3.4.23, 20 kB, true, false, 2, 44, 44, \nhttp://127.0.0.1:17300, a0cf63e75583797a, 3.4.23, 20 kB, false, false, 2, 44, 44, \n");
    assert.equal(
      r.table?.(),
      [
        "+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+",
        "|        ENDPOINT        |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |",
        "+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+",
        "| http://127.0.0.1:19649 | f710f7a873d790a5 |  3.4.23 |   20 kB |      true |      false |         2 |         44 |                 44 |        |",
        "| http://127.0.0.1:17300 | a0cf63e75583797a |  3.4.23 |   20 kB |     false |      false |         2 |         44 |                 44 |        |",
        "+------------------------+------------------+---------+---------+-----------+------------+-----------+------------+--------------------+--------+",
        "",
      ].join("\n"),
    );
  });

  it("status json: the Status reply under Endpoint, omitempty as gogoproto tags it", () => {
    assert.equal(
      json(endpointStatusRendering(list.slice(0, 1))),
      '[{"Endpoint":"http://127.0.0.1:19649","Status":{"header":{"cluster_id":11332702302681778833,"member_id":17803001629865644197,"revision":1,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":17803001629865644197,"raftIndex":44,"raftTerm":2,"raftAppliedIndex":44,"dbSizeInUse":16384}}]',
    );
  });

  it("health: healthy lines on stdout (3.5) or stderr (3.4), unhealthy on stderr", () => {
    const healthy = { endpoint: "http://a:1", health: true, took: "4.313945ms", error: "" };
    const sick = { endpoint: "http://b:2", health: false, took: "5s", error: "context deadline exceeded" };
    const line = "http://a:1 is healthy: successfully committed proposal: took = 4.313945ms\n";
    const bad = "http://b:2 is unhealthy: failed to commit proposal: context deadline exceeded\n";
    assert.deepEqual(endpointHealthSimple([healthy, sick], false), [line, bad]);
    assert.deepEqual(endpointHealthSimple([healthy, sick], true), ["", line + bad]);
  });
});

describe("lease printers (etcdctl 3.4 output)", () => {
  const h = { clusterId: 11332702302681778833n, memberId: 11667022064138778497n, revision: 2n, raftTerm: 2n };
  it("grant: %016x and TTL; JSON with the header's fields at the top and Error", () => {
    const r = grantRendering({ header: h, id: 8611342394969223957n, ttl: 50 });
    assert.equal(r.simple?.(), "lease 7781a2488b66f315 granted with TTL(50s)\n");
    assert.equal(json(r), '{"cluster_id":11332702302681778833,"member_id":11667022064138778497,"revision":2,"raft_term":2,"ID":8611342394969223957,"TTL":50,"Error":""}');
  });

  it("timetolive: expired, with keys, and keys null in JSON when none", () => {
    const gone = timeToLiveRendering({ header: h, id: 0x1234n, ttl: -1, grantedTtl: 0, keys: [] }, false);
    assert.equal(gone.simple?.(), "lease 0000000000001234 already expired\n");
    assert.equal(json(gone), '{"cluster_id":11332702302681778833,"member_id":11667022064138778497,"revision":2,"raft_term":2,"id":4660,"ttl":-1,"granted-ttl":0,"keys":null}');
    const kept = timeToLiveRendering({ header: h, id: 1199543308224218136n, ttl: 99, grantedTtl: 100, keys: [Buffer.from("k1")] }, true);
    assert.equal(kept.simple?.(), "lease 10a5a2488b66c418 granted with TTL(100s), remaining(99s), attached keys([k1])\n");
    assert.match(json(kept), /"keys":\["azE="\]\}$/);
  });

  it("list", () => {
    const r = leasesRendering({ header: h, leases: [1199543308224218136n, 1199543308224218139n] });
    assert.equal(r.simple?.(), "found 2 leases\n10a5a2488b66c418\n10a5a2488b66c41b\n");
    assert.equal(json(r), '{"cluster_id":11332702302681778833,"member_id":11667022064138778497,"revision":2,"raft_term":2,"leases":[{"id":1199543308224218136},{"id":1199543308224218139}]}');
  });
});

describe("role get (etcdctl 3.4 and 3.5 output)", () => {
  it("ranges, prefixes, open ends and single keys, each under its permission", () => {
    const perm = (permission: "read" | "write" | "readwrite", key: string, end: string): { permission: typeof permission; key: Buffer; rangeEnd: Buffer } => ({
      permission,
      key: Buffer.from(key),
      rangeEnd: Buffer.from(end),
    });
    const r = { header, permissions: [perm("readwrite", "/a", "/b"), perm("write", "/f", "\x00"), perm("read", "/p", "/q"), perm("write", "/single", "")] };
    assert.equal(roleGetSimple("r1", r), "Role r1\nKV Read:\n\t[/a, /b) (prefix /a)\n\t[/p, /q) (prefix /p)\nKV Write:\n\t[/a, /b) (prefix /a)\n\t[/f, <open ended>\n\t/single\n");
  });
});

describe("Go formatting helpers", () => {
  it("humanize.Bytes, with Go's round-half-to-even for %.0f", () => {
    assert.deepEqual([5n, 20480n, 24576n, 1_500_000n, 999n, 10_500n, 11_500n].map(humanBytes), ["5 B", "20 kB", "25 kB", "1.5 MB", "999 B", "10 kB", "12 kB"]);
  });

  it("time.Duration.String", () => {
    assert.deepEqual([4.313945, 0.0005, 0.25, 1500, 61_000.5, 0].map(goDuration), ["4.313945ms", "500ns", "250µs", "1.5s", "1m1.0005s", "0s"]);
  });

  it("strconv.ParseInt/ParseUint base 16 with Go's errors", () => {
    assert.deepEqual(goParse("zz", 16, true), { error: 'strconv.ParseInt: parsing "zz": invalid syntax' });
    assert.deepEqual(goParse("123456789012345678", 16, false), { error: 'strconv.ParseUint: parsing "123456789012345678": value out of range' });
    assert.deepEqual(goParse("-1", 16, false), { error: 'strconv.ParseUint: parsing "-1": invalid syntax' });
    assert.deepEqual(goParse("ffffffffffffffff", 16, false), { value: 18446744073709551615n });
    assert.deepEqual(goParse("-1", 16, true), { value: -1n });
  });

  it("tablewriter wraps a cell over 30 columns at spaces", () => {
    const out = renderTable(["errors"], [["memberID:1 alarm:NOSPACE , memberID:2 alarm:NOSPACE"]]);
    assert.equal(out, "+----------------------------+\n|           ERRORS           |\n+----------------------------+\n| memberID:1 alarm:NOSPACE , |\n|   memberID:2 alarm:NOSPACE |\n+----------------------------+\n");
  });
});
