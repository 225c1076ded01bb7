/**
 * The lease keep-alive stream refused for its token, which etcd 3.4 never does (it accepts a
 * LeaseKeepAlive stream with a stale token; see v3-auth.test.ts), so a scripted HTTP/2 server
 * on 127.0.0.1 plays a member that checks: the first token it hands out is refused on the
 * stream with etcd's "invalid auth token" status, the second is accepted.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import type net from "node:net";
import { after, before, describe, it } from "node:test";
import { EtcdV3Client, type EtcdError } from "../../src/index.js";
import { FrameDecoder, encodeFrame } from "../../src/transport/grpc-frame.js";
import { AuthenticateResponse, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse, StatusResponse } from "../../src/v3/gen/etcdserverpb.js";
import { METHODS } from "../../src/v3/methods.js";
import { sleep } from "../harness/index.js";

const OK_HEADERS = { ":status": 200, "content-type": "application/grpc" };
const HEADER = { clusterId: 1n, memberId: 1n, revision: 5n, raftTerm: 2n };
const LEASE_ID = 7n;

/** A one-member "etcd" that speaks just enough of Auth, Lease and Maintenance for one kept lease. */
class CheckingMember {
  readonly server = http2.createServer();
  url = "";
  tokensIssued = 0;
  refusedStreams = 0;
  renewals = 0;

  async start(): Promise<void> {
    this.server.on("stream", (stream, headers) => {
      stream.on("error", () => undefined);
      const path = String(headers[":path"]);
      const token = headers.token;
      if (path === METHODS.status) this.unary(stream, StatusResponse.encode({ header: HEADER, version: "3.4.23", dbSize: 0n, leader: 1n, raftIndex: 5n, raftTerm: 2n, raftAppliedIndex: 5n, errors: [], dbSizeInUse: 0n, isLearner: false }).finish());
      else if (path === METHODS.authenticate) this.unary(stream, AuthenticateResponse.encode({ header: HEADER, token: `token-${++this.tokensIssued}` }).finish());
      else if (path === METHODS.leaseGrant) this.unary(stream, LeaseGrantResponse.encode({ header: HEADER, ID: LEASE_ID, TTL: 3n, error: "" }).finish());
      else if (path === METHODS.leaseKeepAlive && token !== "token-2") {
        // What a checking etcd answers for an expired or unknown token.
        this.refusedStreams++;
        stream.respond({ ...OK_HEADERS, "grpc-status": "16", "grpc-message": "etcdserver: invalid auth token" }, { endStream: true });
      } else if (path === METHODS.leaseKeepAlive) this.keepAlive(stream);
      else stream.respond({ ...OK_HEADERS, "grpc-status": "12" }, { endStream: true });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  private unary(stream: http2.ServerHttp2Stream, reply: Uint8Array): void {
    stream.resume();
    stream.respond(OK_HEADERS, { waitForTrailers: true });
    stream.on("wantTrailers", () => {
      stream.sendTrailers({ "grpc-status": "0" });
    });
    stream.end(encodeFrame(reply));
  }

  private keepAlive(stream: http2.ServerHttp2Stream): void {
    stream.respond(OK_HEADERS);
    const decoder = new FrameDecoder(1024, (message) => {
      const request = LeaseKeepAliveRequest.decode(message);
      this.renewals++;
      stream.write(encodeFrame(LeaseKeepAliveResponse.encode({ header: HEADER, ID: request.ID, TTL: 3n }).finish()));
    });
    stream.on("data", (chunk: Buffer) => {
      decoder.push(chunk);
    });
  }
}

describe("lease keep-alive against a member that checks stream tokens (scripted)", () => {
  const member = new CheckingMember();
  let client: EtcdV3Client | undefined;

  before(async () => {
    await member.start();
  });
  after(async () => {
    await client?.close();
    member.server.close();
  });

  it("a stream refused with INVALID_AUTH_TOKEN gets a fresh token and is reopened; the lease is never lost", async () => {
    client = new EtcdV3Client({ endpoints: [member.url], auth: { username: "root", password: "pw" } });
    const granted = await client.lease.grant(3);
    const ka = client.lease.keepAlive(granted.id);
    let lost: EtcdError | undefined;
    void ka.lost.then((e) => (lost = e));
    const deadline = Date.now() + 5_000;
    while (member.renewals < 2 && Date.now() < deadline) await sleep(20);
    assert.equal(member.refusedStreams, 1, "the stream with the first token was refused once");
    assert.equal(member.tokensIssued, 2, "one token for the grant, one fresh token after the refusal");
    assert.ok(member.renewals >= 1, "renewals arrive on the reopened stream");
    assert.ok(ka.expiresAt > performance.now(), "the lease is known alive");
    assert.equal(lost, undefined);
    ka.close();
  });
});
