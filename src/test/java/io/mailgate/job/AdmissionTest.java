package io.mailgate.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.error.OverloadedException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Admission by cost: bytes and streams in flight, a bounded queue with a timeout, each tenant's share. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class AdmissionTest {

  private final Vertx vertx = Vertx.vertx();
  private static final UUID A = UUID.randomUUID();
  private static final UUID B = UUID.randomUUID();

  @AfterEach
  void close() {
    vertx.close();
  }

  private static <T> T done(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void manySmallSubmissionsFitWhereOneBigOneWould() throws Exception {
    Admission a = new Admission(vertx, new Admission.Bounds(1000, 4, 10, 5000, 1.0));
    for (int i = 0; i < 100; i++) {
      assertTrue(a.admit(A, 10, false).succeeded(), "a 10-byte job is admitted at once (" + i + ")");
    }
    assertEquals(1000, a.usedBytes());
    Future<Admission.Ticket> waiting = a.admit(A, 10, false);
    assertFalse(waiting.isComplete(), "the 101st waits for room");
    assertEquals(1, a.waiting());
  }

  @Test
  void aWaiterIsAdmittedWhenRoomIsReleasedAndTimesOutOtherwise() throws Exception {
    Admission a = new Admission(vertx, new Admission.Bounds(100, 4, 10, 300, 1.0));
    Admission.Ticket big = done(a.admit(A, 100, false));
    Future<Admission.Ticket> next = a.admit(A, 50, false);
    assertFalse(next.isComplete());
    big.release();
    done(next);
    assertEquals(50, a.usedBytes(), "the waiter holds its 50 bytes now");

    Future<Admission.Ticket> late = a.admit(A, 80, false);
    Throwable e = late.toCompletionStage().toCompletableFuture().handle((t, x) -> x).get(10, TimeUnit.SECONDS);
    assertInstanceOf(OverloadedException.class, e.getCause() != null ? e.getCause() : e, "a wait past the timeout is refused");
    assertEquals(0, a.waiting());
  }

  @Test
  void aFullQueueRefusesAtOnce() throws Exception {
    Admission a = new Admission(vertx, new Admission.Bounds(10, 4, 2, 5000, 1.0));
    done(a.admit(A, 10, false));
    assertFalse(a.admit(A, 10, false).isComplete());
    assertFalse(a.admit(B, 10, false).isComplete());
    Future<Admission.Ticket> third = a.admit(B, 10, false);
    assertTrue(third.failed());
    assertInstanceOf(OverloadedException.class, third.cause());
    assertEquals(1, ((OverloadedException) third.cause()).retryAfterSeconds());
  }

  @Test
  void aTenantOverItsShareWaitsWhileAnotherTenantIsServed() throws Exception {
    // two streams, half each; a queue of two, one place each
    Admission a = new Admission(vertx, new Admission.Bounds(1 << 20, 2, 2, 5000, 0.5));
    Admission.Ticket first = done(a.admit(A, 0, true));
    Future<Admission.Ticket> second = a.admit(A, 0, true);
    assertFalse(second.isComplete(), "A holds its share of the streams");
    Future<Admission.Ticket> third = a.admit(A, 0, true);
    assertTrue(third.failed(), "A has its share of the queue waiting: refused");
    Admission.Ticket other = done(a.admit(B, 0, true));
    assertTrue(other != null, "B is served while A waits");
    first.release();
    assertTrue(done(second) != null, "A's waiting stream goes once A's first ends");
  }

  @Test
  void releasingTwiceGivesBackOnce() throws Exception {
    Admission a = new Admission(vertx, new Admission.Bounds(100, 4, 10, 5000, 1.0));
    Admission.Ticket t = done(a.admit(A, 60, false));
    done(a.admit(B, 40, false));
    t.release();
    t.release();
    assertEquals(40, a.usedBytes());
  }

  @Test
  void aTenantsJsonJobsWaitWhileItsBacklogIsFullWhileStreamsAndOtherTenantsGoOn() throws Exception {
    Admission a = new Admission(vertx, new Admission.Bounds(1 << 20, 4, 10, 5000, 1.0));
    java.util.concurrent.atomic.AtomicBoolean room = new java.util.concurrent.atomic.AtomicBoolean(false);
    a.holdWhileDispatchIsFull(tenant -> room.get() || tenant.equals(B));
    Future<Admission.Ticket> held = a.admit(A, 10, false);
    assertFalse(held.isComplete(), "a JSON job waits while the backlog is at its bound");
    done(a.admit(A, 0, true)); // an NDJSON stream is not held by the backlog: admitted past the held JSON job
    done(a.admit(B, 10, false)); // another tenant, under its share of the backlog, is served meanwhile
    a.roomMayHaveCome();
    assertFalse(held.isComplete(), "still no room: still waiting");
    room.set(true);
    a.roomMayHaveCome();
    done(held);
    assertEquals(0, a.waiting());
  }
}
