package io.mailgate.backend.smtp;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetClientOptions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * At most {@code maxConnections} connections to one SMTP server, reused across messages. Callers wait in a
 * queue bounded by the callers' own send windows; transactional mail (the priority lane) waits in a queue of its own
 * that is served first, so a campaign's queued sends never delay it by more than the sends already on the wire. After a failed connect the pool reports the server down for
 * {@code downBackoff} and fails fast, so a dead server costs one connect attempt, not one per recipient.
 * Used from one event loop.
 */
final class SmtpPool {

  private final Vertx vertx;
  private final SmtpSettings settings;
  private final NetClient client;
  private final ArrayDeque<SmtpConnection> idle = new ArrayDeque<>();
  private final ArrayDeque<Promise<SmtpConnection>> waiters = new ArrayDeque<>();
  private final ArrayDeque<Promise<SmtpConnection>> priorityWaiters = new ArrayDeque<>();
  private final long sweeper;
  private int open;
  private long downUntil;
  private SmtpException downBecause;
  private boolean closed;

  SmtpPool(Vertx vertx, SmtpSettings settings) {
    this.vertx = vertx;
    this.settings = settings;
    NetClientOptions options = new NetClientOptions()
        .setConnectTimeout((int) settings.connectTimeout().toMillis())
        .setTcpNoDelay(true)
        .setSsl(settings.tls() == SmtpSettings.Tls.IMPLICIT);
    if (settings.tls() == SmtpSettings.Tls.IMPLICIT) {
      options.setTrustAll(settings.trustAll());
      options.setHostnameVerificationAlgorithm(settings.trustAll() ? "" : "HTTPS");
    }
    this.client = vertx.createNetClient(options);
    long sweepEvery = Math.max(1000, settings.idleTimeout().toMillis() / 2);
    this.sweeper = vertx.setPeriodic(sweepEvery, id -> closeIdle());
  }

  Future<SmtpConnection> acquire(boolean priority) {
    if (closed) {
      return Future.failedFuture(new SmtpException("backend closed"));
    }
    if (downBecause != null && System.nanoTime() - downUntil < 0) {
      return Future.failedFuture(downBecause);
    }
    SmtpConnection c;
    while ((c = idle.pollLast()) != null) {
      if (c.usable()) {
        return Future.succeededFuture(c);
      }
      open--;
      c.quit();
    }
    if (open < settings.maxConnections()) {
      return connect();
    }
    Promise<SmtpConnection> p = Promise.promise();
    (priority ? priorityWaiters : waiters).add(p);
    return p.future();
  }

  private Promise<SmtpConnection> nextWaiter() {
    Promise<SmtpConnection> w = priorityWaiters.poll();
    return w != null ? w : waiters.poll();
  }

  void release(SmtpConnection c) {
    if (closed || !c.usable()) {
      open--;
      c.quit();
      serveWaiterWithNewConnection();
      return;
    }
    Promise<SmtpConnection> w = nextWaiter();
    if (w != null) {
      w.complete(c);
      return;
    }
    c.markIdle();
    idle.add(c);
  }

  private Future<SmtpConnection> connect() {
    open++;
    return SmtpConnection.open(vertx, client, settings).andThen(ar -> {
      if (ar.failed()) {
        open--;
        markDown(ar.cause());
      } else {
        downBecause = null;
      }
    });
  }

  private void serveWaiterWithNewConnection() {
    if ((!waiters.isEmpty() || !priorityWaiters.isEmpty()) && open < settings.maxConnections()) {
      Promise<SmtpConnection> w = nextWaiter();
      connect().onComplete(w);
    }
  }

  private void markDown(Throwable cause) {
    downBecause = cause instanceof SmtpException se ? se : new SmtpException(String.valueOf(cause.getMessage()));
    downUntil = System.nanoTime() + settings.downBackoff().toNanos();
    List<Promise<SmtpConnection>> ws = new ArrayList<>(priorityWaiters);
    ws.addAll(waiters);
    priorityWaiters.clear();
    waiters.clear();
    ws.forEach(w -> w.fail(downBecause));
  }

  private void closeIdle() {
    long limit = settings.idleTimeout().toNanos();
    long now = System.nanoTime();
    while (!idle.isEmpty() && now - idle.peekFirst().idleSince() > limit) {
      open--;
      idle.pollFirst().quit();
    }
  }

  Future<Void> close() {
    closed = true;
    vertx.cancelTimer(sweeper);
    List<Future<Void>> quits = new ArrayList<>();
    SmtpConnection c;
    while ((c = idle.poll()) != null) {
      open--;
      quits.add(c.quit());
    }
    waiters.forEach(w -> w.tryFail(new SmtpException("backend closed")));
    priorityWaiters.forEach(w -> w.tryFail(new SmtpException("backend closed")));
    waiters.clear();
    priorityWaiters.clear();
    return Future.join(quits).transform(ar -> client.close());
  }
}
