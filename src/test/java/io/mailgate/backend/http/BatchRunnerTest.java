package io.mailgate.backend.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.message.Campaign;
import io.mailgate.message.ComposedMessage;
import io.mailgate.message.EmailAddress;
import io.mailgate.message.MimeComposer;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The one engine of the provider backends without a provider: batching, calls in flight, the dispatcher's
 * backpressure, stopping, and what a call's answer does to the rest of the delivery. Futures are completed by hand.
 */
class BatchRunnerTest {

  private static final Outcome SENT = new Outcome.Sent("id", 200, "ok");

  @Test
  void sendsConsecutiveRecipientsInCallsOfAtMostThePerCallLimitAndReportsEachWithItsCallsOutcome() {
    FakeDelivery d = new FakeDelivery(emails("a", 5));
    FakeCalls calls = FakeCalls.answering(b -> Provider.Answer.forCall(SENT));
    Future<Void> done = BatchRunner.run(d, gate(4), new Provider.Job(2, calls), false);

    assertTrue(done.succeeded());
    assertEquals(List.of(List.of(0, 1), List.of(2, 3), List.of(4)), calls.seqs());
    assertEquals(List.of(2, 2, 1), d.readyAsks, "ready(n) once per call, with the call's size");
    assertEquals(5, d.reported.size());
    d.reported.values().forEach(o -> assertSame(SENT, o));
  }

  @Test
  void callsInFlightNeverExceedTheGateAcrossDeliveries() {
    CallGate gate = gate(2);
    FakeCalls calls = FakeCalls.held();
    FakeDelivery d1 = new FakeDelivery(emails("x", 6));
    FakeDelivery d2 = new FakeDelivery(emails("y", 6));
    Future<Void> f1 = BatchRunner.run(d1, gate, new Provider.Job(1, calls), false);
    Future<Void> f2 = BatchRunner.run(d2, gate, new Provider.Job(1, calls), false);

    while (!calls.pending.isEmpty()) {
      assertTrue(calls.inFlight <= 2, "in flight: " + calls.inFlight);
      calls.pending.remove(0).complete(Provider.Answer.forCall(SENT));
    }
    assertEquals(2, calls.maxInFlight);
    assertEquals(12, calls.batches.size());
    assertTrue(f1.succeeded() && f2.succeeded());
    assertEquals(6, d1.reported.size());
    assertEquals(6, d2.reported.size());
  }

  @Test
  void waitsForTheDispatcherBeforeTakingACallSlotAndKeepsOneBatchWaiting() {
    CallGate gate = gate(1);
    FakeDelivery d = new FakeDelivery(emails("r", 4));
    d.holdReady = true;
    FakeCalls calls = FakeCalls.answering(b -> Provider.Answer.forCall(SENT));
    Future<Void> done = BatchRunner.run(d, gate, new Provider.Job(2, calls), false);

    assertEquals(List.of(2), d.readyAsks, "one batch asked for, none started");
    assertTrue(calls.batches.isEmpty());
    // the slot is free while this delivery waits for the dispatcher: another delivery of the backend calls
    FakeDelivery other = new FakeDelivery(emails("o", 1));
    FakeCalls otherCalls = FakeCalls.answering(b -> Provider.Answer.forCall(SENT));
    assertTrue(BatchRunner.run(other, gate, new Provider.Job(2, otherCalls), false).succeeded());
    assertEquals(1, otherCalls.batches.size());

    d.holdReady = false;
    d.held.complete();
    assertEquals(List.of(List.of(0, 1), List.of(2, 3)), calls.seqs());
    assertTrue(done.succeeded());
  }

  @Test
  void startsNothingOnceStoppedAndLeavesTheRestUnreported() {
    FakeDelivery d = new FakeDelivery(emails("s", 6));
    FakeCalls calls = FakeCalls.held();
    Future<Void> done = BatchRunner.run(d, gate(1), new Provider.Job(2, calls), false);

    assertEquals(1, calls.batches.size());
    d.stopped = true;
    assertFalse(done.isComplete(), "the call in flight is still to be reported");
    calls.pending.remove(0).complete(Provider.Answer.forCall(SENT));
    assertTrue(done.succeeded());
    assertEquals(1, calls.batches.size());
    assertEquals(List.of(0, 1), List.copyOf(d.reported.keySet()), "only the started call is reported");
  }

  @Test
  void aCallRefusedAsAWholeForOurCredentialsDefersTheRestOfTheDeliveryWithoutCalls() {
    Outcome refused = new Outcome.Temporary(401, "HTTP 401", null, false, Outcome.Fault.CREDENTIALS);
    FakeDelivery d = new FakeDelivery(emails("c", 5));
    FakeCalls calls = FakeCalls.answering(b -> Provider.Answer.forCall(refused));
    Future<Void> done = BatchRunner.run(d, gate(4), new Provider.Job(2, calls), false);

    assertTrue(done.succeeded());
    assertEquals(1, calls.batches.size());
    assertEquals(5, d.reported.size());
    d.reported.values().forEach(o -> assertSame(refused, o, "one outcome: the dispatcher counts the call once"));
    assertEquals(List.of(2, 2, 1), d.readyAsks, "recipients reported without a call are taken like the others");
  }

  @Test
  void aThrottledCallWithRetryAfterHoldsTheCallsOfEveryDeliveryOfTheBackend() {
    CallGate gate = gate(4);
    Outcome throttled = new Outcome.Temporary(429, "HTTP 429", Duration.ofSeconds(60), false, Outcome.Fault.THROTTLED);
    FakeDelivery first = new FakeDelivery(emails("t", 1));
    BatchRunner.run(first, gate, new Provider.Job(10, FakeCalls.answering(b -> Provider.Answer.forCall(throttled))), false);

    FakeDelivery second = new FakeDelivery(emails("u", 3));
    FakeCalls calls = FakeCalls.answering(b -> Provider.Answer.forCall(SENT));
    assertTrue(BatchRunner.run(second, gate, new Provider.Job(10, calls), false).succeeded());
    assertTrue(calls.batches.isEmpty(), "no call while Retry-After runs");
    for (Outcome o : second.reported.values()) {
      Outcome.Temporary t = (Outcome.Temporary) o;
      assertEquals(Outcome.Fault.THROTTLED, t.fault());
      assertTrue(t.retryAfter().compareTo(Duration.ofSeconds(60)) <= 0 && t.retryAfter().toSeconds() >= 50, t.toString());
    }
  }

  @Test
  void perRecipientAnswersAreReportedAsGivenAndDoNotHaltTheDelivery() {
    Outcome inactive = new Outcome.Permanent(406, "inactive");
    Outcome slowDown = new Outcome.Temporary(429, "rate", null, false, Outcome.Fault.THROTTLED);
    FakeDelivery d = new FakeDelivery(emails("p", 4));
    FakeCalls calls = FakeCalls.answering(b -> Provider.Answer.perRecipient(List.of(inactive, slowDown)));
    assertTrue(BatchRunner.run(d, gate(1), new Provider.Job(2, calls), false).succeeded());

    assertEquals(2, calls.batches.size());
    assertSame(inactive, d.reported.get(0));
    assertSame(slowDown, d.reported.get(1));
    assertSame(inactive, d.reported.get(2));
  }

  @Test
  void aFailedCallOrMissingResultsDeferAsOneBackendFault() {
    FakeDelivery d = new FakeDelivery(emails("f", 3));
    FakeCalls calls = FakeCalls.answering(b -> {
      throw new IllegalStateException("boom");
    });
    assertTrue(BatchRunner.run(d, gate(1), new Provider.Job(3, calls), false).succeeded());
    Outcome first = d.reported.get(0);
    assertEquals(Outcome.Fault.BACKEND, ((Outcome.Temporary) first).fault());
    assertTrue(((Outcome.Temporary) first).message().contains("boom"), first.toString());
    d.reported.values().forEach(o -> assertSame(first, o));

    FakeDelivery short1 = new FakeDelivery(emails("m", 3));
    assertTrue(BatchRunner.run(short1, gate(1), new Provider.Job(3,
        FakeCalls.answering(b -> Provider.Answer.perRecipient(List.of(SENT)))), false).succeeded());
    assertSame(SENT, short1.reported.get(0));
    assertEquals(Outcome.Fault.BACKEND, ((Outcome.Temporary) short1.reported.get(1)).fault());
    assertSame(short1.reported.get(1), short1.reported.get(2));
  }

  @Test
  void withDistinctAddressesACallEndsBeforeARepeatedAddress() {
    FakeDelivery d = new FakeDelivery(List.of("dup@example.com", "other@example.com", "DUP@example.com", "x@example.com"));
    FakeCalls calls = FakeCalls.answering(b -> Provider.Answer.forCall(SENT));
    assertTrue(BatchRunner.run(d, gate(1), new Provider.Job(10, calls), true).succeeded());
    assertEquals(List.of(List.of(0, 1), List.of(2, 3)), calls.seqs());

    FakeDelivery any = new FakeDelivery(List.of("dup@example.com", "dup@example.com"));
    FakeCalls anyCalls = FakeCalls.answering(b -> Provider.Answer.forCall(SENT));
    assertTrue(BatchRunner.run(any, gate(1), new Provider.Job(10, anyCalls), false).succeeded());
    assertEquals(1, anyCalls.batches.size(), "providers with a message per entry take repeated addresses");
  }

  // --- fakes

  private static CallGate gate(int maxCalls) {
    return new CallGate(null, maxCalls, 0); // no rate: the limiter never needs a context
  }

  private static List<String> emails(String prefix, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(prefix + i + "@example.com");
    }
    return out;
  }

  private static final class FakeDelivery implements Delivery {
    final List<OutboundRecipient> recipients = new ArrayList<>();
    final Map<Integer, Outcome> reported = new LinkedHashMap<>();
    final List<Integer> readyAsks = new ArrayList<>();
    boolean holdReady;
    Promise<Void> held;
    boolean stopped;

    FakeDelivery(List<String> emails) {
      for (int i = 0; i < emails.size(); i++) {
        recipients.add(new OutboundRecipient(i, new EmailAddress(emails.get(i)), Map.of(), 1));
      }
    }

    @Override
    public Campaign campaign() {
      return null;
    }

    @Override
    public MimeComposer composer() {
      return null;
    }

    @Override
    public Future<ComposedMessage> message(OutboundRecipient recipient) {
      return Future.failedFuture("not used by provider backends");
    }

    @Override
    public List<OutboundRecipient> recipients() {
      return Collections.unmodifiableList(recipients);
    }

    @Override
    public boolean stopped() {
      return stopped;
    }

    @Override
    public Future<Void> ready(int messages) {
      readyAsks.add(messages);
      if (holdReady) {
        held = Promise.promise();
        return held.future();
      }
      return Future.succeededFuture();
    }

    @Override
    public void report(OutboundRecipient recipient, Outcome outcome, long latencyNanos) {
      assertNull(reported.put(recipient.seq(), outcome), "reported twice: " + recipient);
    }
  }

  private static final class FakeCalls implements Provider.Call {
    final List<List<OutboundRecipient>> batches = new ArrayList<>();
    final List<Promise<Provider.Answer>> pending = new ArrayList<>();
    final Function<List<OutboundRecipient>, Provider.Answer> answer;
    int inFlight;
    int maxInFlight;

    private FakeCalls(Function<List<OutboundRecipient>, Provider.Answer> answer) {
      this.answer = answer;
    }

    static FakeCalls answering(Function<List<OutboundRecipient>, Provider.Answer> answer) {
      return new FakeCalls(answer);
    }

    static FakeCalls held() {
      return new FakeCalls(null);
    }

    @Override
    public Future<Provider.Answer> send(List<OutboundRecipient> batch) {
      batches.add(batch);
      if (answer != null) {
        return Future.succeededFuture(answer.apply(batch));
      }
      Promise<Provider.Answer> p = Promise.promise();
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      pending.add(p);
      return p.future().onComplete(ar -> inFlight--);
    }

    List<List<Integer>> seqs() {
      return batches.stream().map(b -> b.stream().map(OutboundRecipient::seq).toList()).toList();
    }
  }
}
