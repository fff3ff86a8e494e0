package io.mailgate.support;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SelfSignedCertificate;
import io.vertx.core.parsetools.RecordParser;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * An SMTP server in the test JVM whose answers a test scripts: per recipient, per message, for EHLO extensions,
 * STARTTLS and AUTH. It speaks real SMTP over TCP (PIPELINING included) and keeps what it received, unstuffed,
 * plus the raw bytes of every DATA section. It can be stopped and started again on the same port.
 */
public final class ScriptedSmtpServer implements AutoCloseable {

  /**
   * A message as received: envelope and content (dot-stuffing removed); {@code mailParameters} what followed the
   * MAIL FROM address (" SMTPUTF8 BODY=8BITMIME"), empty when nothing did.
   */
  public record Received(String mailFrom, List<String> rcptTo, String data, byte[] raw, String mailParameters) {}

  private final Vertx vertx = Vertx.vertx();
  private final ConcurrentLinkedQueue<Received> received = new ConcurrentLinkedQueue<>();
  private final AtomicInteger connections = new AtomicInteger();
  private final AtomicInteger transactions = new AtomicInteger();
  private final AtomicInteger tlsSessions = new AtomicInteger();
  private final AtomicInteger tlsTransactions = new AtomicInteger();
  private volatile Function<String, String> rcptReply = rcpt -> "250 2.1.5 ok";
  private volatile Function<String, String> mailReply = sender -> "250 2.1.0 ok";
  private volatile BiFunction<Integer, String, String> dataReply = (n, data) -> "250 2.0.0 queued as " + n;
  private volatile boolean pipelining = true;
  private volatile boolean smtpUtf8;
  private volatile boolean startTls;
  private volatile String user;
  private volatile String password;
  private volatile long dataReplyDelayMs;
  private NetServer server;
  private int port;

  public ScriptedSmtpServer pipelining(boolean on) {
    this.pipelining = on;
    return this;
  }

  /** The reply to {@code RCPT TO} for each address, e.g. {@code a -> "450 4.2.0 try later"}. */
  public ScriptedSmtpServer onRcpt(Function<String, String> reply) {
    this.rcptReply = reply;
    return this;
  }

  /** The reply to {@code MAIL FROM} for each sender address. */
  public ScriptedSmtpServer onMail(Function<String, String> reply) {
    this.mailReply = reply;
    return this;
  }

  /** The reply after the final '.', given the message number (from 1) and the content. */
  public ScriptedSmtpServer onData(BiFunction<Integer, String, String> reply) {
    this.dataReply = reply;
    return this;
  }

  /**
   * Offers SMTPUTF8 (RFC 6531). Either way, like a real server, a MAIL or RCPT with a non-ASCII address in a
   * transaction not started with {@code MAIL FROM:<...> SMTPUTF8} is refused with 553 5.6.7.
   */
  public ScriptedSmtpServer smtpUtf8(boolean on) {
    this.smtpUtf8 = on;
    return this;
  }

  public ScriptedSmtpServer startTls(boolean on) {
    this.startTls = on;
    return this;
  }

  public ScriptedSmtpServer requireAuth(String user, String password) {
    this.user = user;
    this.password = password;
    return this;
  }

  /** Delays the reply to the end of DATA, to hold sends in flight. */
  public ScriptedSmtpServer dataReplyDelay(long ms) {
    this.dataReplyDelayMs = ms;
    return this;
  }

  public synchronized ScriptedSmtpServer start() {
    return start(port);
  }

  public synchronized ScriptedSmtpServer start(int atPort) {
    SelfSignedCertificate cert = SelfSignedCertificate.create("localhost");
    NetServerOptions options = new NetServerOptions().setHost("127.0.0.1").setPort(atPort)
        .setKeyCertOptions(cert.keyCertOptions());
    server = vertx.createNetServer(options).connectHandler(this::session);
    try {
      server.listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    port = server.actualPort();
    return this;
  }

  /** Closes the listening socket and every open session: the server is down. */
  public synchronized void stop() {
    if (server != null) {
      try {
        server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      server = null;
    }
  }

  public int port() {
    return port;
  }

  public List<Received> received() {
    return Collections.unmodifiableList(new ArrayList<>(received));
  }

  public int connections() {
    return connections.get();
  }

  /** How many messages the server finished receiving (the reply after '.' was due), whatever that reply was. */
  public int transactions() {
    return transactions.get();
  }

  /** How many sessions completed a STARTTLS handshake. */
  public int tlsSessions() {
    return tlsSessions.get();
  }

  /** How many of the {@link #transactions()} were received over TLS. */
  public int tlsTransactions() {
    return tlsTransactions.get();
  }

  @Override
  public void close() {
    stop();
    vertx.close();
  }

  private void session(NetSocket socket) {
    connections.incrementAndGet();
    new Session(socket).begin();
  }

  private final class Session {
    private final NetSocket socket;
    private final RecordParser parser;
    private String mailFrom;
    private String mailParameters = "";
    private boolean utf8Transaction;
    private final List<String> rcpts = new ArrayList<>();
    private boolean inData;
    private Buffer raw;
    private boolean authLogin;
    private String loginUser;
    private int authStep;
    private boolean tls;

    Session(NetSocket socket) {
      this.socket = socket;
      this.parser = RecordParser.newDelimited("\r\n", this::line);
      socket.handler(parser);
    }

    void begin() {
      reply("220 scripted.test ESMTP");
    }

    private void reply(String s) {
      socket.write(s + "\r\n");
    }

    private void line(Buffer b) {
      if (inData) {
        raw.appendBuffer(b).appendString("\r\n");
        if (b.length() == 1 && b.getByte(0) == '.') {
          inData = false;
          finishData();
        }
        return;
      }
      String line = b.toString(StandardCharsets.UTF_8);
      if (authStep > 0) {
        auth(line);
        return;
      }
      String upper = line.toUpperCase(Locale.ROOT);
      if (upper.startsWith("EHLO")) {
        StringBuilder r = new StringBuilder("250-scripted.test\r\n");
        if (pipelining) {
          r.append("250-PIPELINING\r\n");
        }
        if (startTls) {
          r.append("250-STARTTLS\r\n");
        }
        if (user != null) {
          r.append("250-AUTH PLAIN LOGIN\r\n");
        }
        if (smtpUtf8) {
          r.append("250-SMTPUTF8\r\n");
        }
        r.append("250 8BITMIME");
        reply(r.toString());
      } else if (upper.startsWith("HELO")) {
        reply("250 scripted.test");
      } else if (upper.equals("STARTTLS")) {
        reply("220 2.0.0 ready to start TLS");
        // RFC 3207: nothing said before the handshake counts; the client starts over with EHLO
        mailFrom = null;
        rcpts.clear();
        socket.upgradeToSsl().onSuccess(v -> {
          tls = true;
          tlsSessions.incrementAndGet();
        });
      } else if (upper.startsWith("AUTH PLAIN ")) {
        String[] parts = new String(Base64.getDecoder().decode(line.substring(11).trim()), StandardCharsets.UTF_8).split("\0");
        boolean ok = parts.length == 3 && parts[1].equals(user) && parts[2].equals(password);
        reply(ok ? "235 2.7.0 authenticated" : "535 5.7.8 bad credentials");
      } else if (upper.equals("AUTH LOGIN")) {
        authLogin = true;
        authStep = 1;
        reply("334 VXNlcm5hbWU6");
      } else if (upper.startsWith("MAIL FROM:")) {
        String sender = between(line);
        rcpts.clear();
        String params = line.substring(line.indexOf('>') + 1);
        utf8Transaction = smtpUtf8 && params.toUpperCase(Locale.ROOT).contains(" SMTPUTF8");
        String r = !utf8Transaction && !ascii(sender) ? "553 5.6.7 non-ASCII address without SMTPUTF8" : mailReply.apply(sender);
        mailFrom = r.startsWith("2") ? sender : null;
        mailParameters = params;
        reply(r);
      } else if (upper.startsWith("RCPT TO:")) {
        String addr = between(line);
        String r = mailFrom == null ? "503 5.5.1 need MAIL"
            : !utf8Transaction && !ascii(addr) ? "553 5.6.7 non-ASCII address without SMTPUTF8" : rcptReply.apply(addr);
        if (r.startsWith("2")) {
          rcpts.add(addr);
        }
        reply(r);
      } else if (upper.equals("DATA")) {
        if (rcpts.isEmpty()) {
          reply("554 5.5.1 no valid recipients");
        } else {
          inData = true;
          raw = Buffer.buffer();
          reply("354 end with <CRLF>.<CRLF>");
        }
      } else if (upper.equals("RSET")) {
        mailFrom = null;
        rcpts.clear();
        reply("250 2.0.0 ok");
      } else if (upper.equals("QUIT")) {
        reply("221 2.0.0 bye");
        socket.close();
      } else if (upper.equals("NOOP")) {
        reply("250 2.0.0 ok");
      } else {
        reply("500 5.5.2 unknown command");
      }
    }

    private void auth(String line) {
      if (authLogin && authStep == 1) {
        loginUser = new String(Base64.getDecoder().decode(line.trim()), StandardCharsets.UTF_8);
        authStep = 2;
        reply("334 UGFzc3dvcmQ6");
      } else {
        String pass = new String(Base64.getDecoder().decode(line.trim()), StandardCharsets.UTF_8);
        authStep = 0;
        reply(user.equals(loginUser) && password.equals(pass) ? "235 2.7.0 authenticated" : "535 5.7.8 bad credentials");
      }
    }

    private void finishData() {
      byte[] bytes = raw.getBytes();
      String data = unstuff(new String(bytes, 0, bytes.length - 3, StandardCharsets.UTF_8));
      int n = transactions.incrementAndGet();
      if (tls) {
        tlsTransactions.incrementAndGet();
      }
      String r = dataReply.apply(n, data);
      if (r.startsWith("2")) {
        received.add(new Received(mailFrom, List.copyOf(rcpts), data, bytes, mailParameters));
      }
      mailFrom = null;
      rcpts.clear();
      if (dataReplyDelayMs > 0) {
        vertx.setTimer(dataReplyDelayMs, id -> reply(r));
      } else {
        reply(r);
      }
    }

    private String unstuff(String s) {
      StringBuilder b = new StringBuilder(s.length());
      for (String l : s.split("\r\n", -1)) {
        b.append(l.startsWith(".") ? l.substring(1) : l).append("\r\n");
      }
      return b.substring(0, b.length() - 2);
    }

    private boolean ascii(String s) {
      return s.chars().allMatch(c -> c < 128);
    }

    private String between(String line) {
      int lt = line.indexOf('<');
      int gt = line.indexOf('>', lt + 1);
      return lt < 0 || gt < 0 ? "" : line.substring(lt + 1, gt);
    }
  }
}
