/**
 * The long-lived stream supervisor without a server: its named states through open, failure,
 * backoff and close; require-leader on every stream; progress resetting the backoff; a token
 * restart re-opening at once; and an owner's fatal answer stopping the loop.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Operation } from "../../src/endpoints/engine.js";
import { EtcdError } from "../../src/errors.js";
import type { CallOptions } from "../../src/options.js";
import type { Metadata } from "../../src/transport/grpc.js";
import type { V3Rpc } from "../../src/v3/rpc.js";
import { StreamSupervisor, SupervisedStream, movable, type StreamEnd, type SupervisorState } from "../../src/v3/stream-supervisor.js";

/** A stream that never touches a socket: the test ends or fails it. */
class FakeStream extends SupervisedStream {
  constructor(rpc: V3Rpc, endpoint: string, signal: AbortSignal, metadata: Metadata) {
    super(rpc, endpoint, signal, metadata, "fake", new Set(["PERMISSION_DENIED"]));
  }

  protected onMessage(): void {
    // The fake stream receives nothing.
  }
}

/** An engine that runs each attempt on one endpoint and gives up after the first failure. */
function fakeRpc(): { rpc: V3Rpc; attempts: Metadata[] } {
  const attempts: Metadata[] = [];
  const engine = {
    isClosed: false,
    async execute<T>(op: Operation<T>, call: CallOptions): Promise<T> {
      call.signal?.throwIfAborted();
      return op.run("http://127.0.0.1:1", call.signal ?? new AbortController().signal);
    },
  };
  const rpc = {
    engine,
    tokens: undefined,
    streamMetadata: (_signal: AbortSignal, extra: Metadata = {}): Promise<Metadata> => {
      attempts.push(extra);
      return Promise.resolve(extra);
    },
  };
  return { rpc: rpc as unknown as V3Rpc, attempts };
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("StreamSupervisor", () => {
  it("goes idle → opening → open, re-opens after a failure with backoff, and is closed for good", async () => {
    const { rpc, attempts } = fakeRpc();
    let wanted = true;
    const streams: FakeStream[] = [];
    const states: SupervisorState[] = [];
    const supervisor = new StreamSupervisor<FakeStream>(rpc, {
      name: "fake",
      backoffBase: 40,
      backoffCap: 40,
      wanted: () => wanted,
      open: (endpoint, signal, metadata) => {
        const s = new FakeStream(rpc, endpoint, signal, metadata);
        streams.push(s);
        return s;
      },
      gaveUp: () => false,
    });
    assert.equal(supervisor.state, "idle");
    supervisor.start();
    await tick();
    assert.equal(supervisor.state, "open");
    assert.deepEqual(attempts, [{ hasleader: "true" }]);
    assert.equal(supervisor.stream, streams[0]);
    // A failure without progress backs off before the next stream.
    streams[0]?.fail(new EtcdError("UNAVAILABLE", "gone", { delivery: "unknown" }));
    await tick();
    states.push(supervisor.state);
    await tick(60);
    states.push(supervisor.state);
    assert.deepEqual(states, ["backing-off", "open"]);
    assert.equal(streams.length, 2);
    // After progress, the next failure re-opens at once.
    supervisor.progressed();
    streams[1]?.fail(new EtcdError("UNAVAILABLE", "gone again", { delivery: "unknown" }));
    await tick();
    assert.equal(supervisor.state, "open");
    assert.equal(streams.length, 3);
    // Nothing wanted: the stream ends and the supervisor is idle.
    wanted = false;
    streams[2]?.end("idle");
    await tick();
    assert.equal(supervisor.state, "idle");
    wanted = true;
    supervisor.start();
    await tick();
    assert.equal(supervisor.state, "open");
    await supervisor.close();
    assert.equal(supervisor.state, "closed");
    assert.equal(streams[3]?.finished, true);
    supervisor.start();
    assert.equal(supervisor.state, "closed");
  });

  it("a fatal failure reaches the owner as it is and stops the loop; others become movable", async () => {
    const { rpc } = fakeRpc();
    const streams: FakeStream[] = [];
    const gaveUp: unknown[] = [];
    const supervisor = new StreamSupervisor<FakeStream>(rpc, {
      name: "fake",
      backoffBase: 1,
      backoffCap: 1,
      // An owner that stops for good has ended its users, so it wants no stream any more.
      wanted: () => gaveUp.length === 0,
      open: (endpoint, signal, metadata) => {
        const s = new FakeStream(rpc, endpoint, signal, metadata);
        streams.push(s);
        return s;
      },
      gaveUp: (error) => {
        gaveUp.push(error);
        return error instanceof EtcdError && error.code === "PERMISSION_DENIED";
      },
    });
    supervisor.start();
    await tick();
    const denied = new EtcdError("PERMISSION_DENIED", "no");
    streams[0]?.fail(denied);
    await tick(10);
    assert.deepEqual(gaveUp, [denied]);
    assert.equal(supervisor.state, "idle");
    assert.equal(streams.length, 1);
    await supervisor.close();
    // Any other end is one the engine moves on from; a member failure keeps its delivery.
    const leaderless = movable(new EtcdError("NO_LEADER", "no leader"), "http://127.0.0.1:1");
    assert.deepEqual([leaderless.code, leaderless.delivery, leaderless.memberFailure], ["NO_LEADER", "unknown", true]);
    const hung = new EtcdError("UNAVAILABLE", "hung", { delivery: "pending" });
    assert.equal(movable(hung, "http://127.0.0.1:1"), hung);
  });

  it("a stream's done settles with its end", async () => {
    const { rpc } = fakeRpc();
    const controller = new AbortController();
    const stream = new FakeStream(rpc, "http://127.0.0.1:1", controller.signal, {});
    stream.end("restart");
    const end: StreamEnd = await stream.done;
    assert.equal(end, "restart");
    const aborted = new FakeStream(rpc, "http://127.0.0.1:1", controller.signal, {});
    controller.abort(new EtcdError("TIMEOUT", "attempt over"));
    await assert.rejects(aborted.done, (e) => e instanceof EtcdError && e.code === "TIMEOUT");
  });
});
