package io.mailgate.backend.smtp;

import io.mailgate.backend.Outcome;
import io.mailgate.message.EmailAddress;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.ClientSSLOptions;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One client connection to an SMTP server. Commands are written as whole buffers; when the server offers
 * PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one write, and each message's DATA section is one
 * further write. Replies are matched to commands in order. One transaction at a time per connection, so
 * the socket's write queue never holds more than one message. Used from one event loop.
 */
final class SmtpConnection {

  /** Longest reply line we accept from a server (RFC 5321 says 512; some servers send more). */
  private static final int MAX_REPLY_LINE = 8192;

  private final Vertx vertx;
  private final NetSocket socket;
  private final SmtpSettings settings;
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  private List<String> replyLines = new ArrayList<>();
  private final Set<String> extensions = new HashSet<>();
  private final Set<String> authMechanisms = new HashSet<>();
  private boolean closed;
  private boolean tlsActive;
  private int messages;
  private long idleSince;

  private record Pending(Promise<SmtpReply> promise, long timer, boolean afterData) {}

  private SmtpConnection(Vertx vertx, NetSocket socket, SmtpSettings settings, boolean tlsActive) {
    this.vertx = vertx;
    this.socket = socket;
    this.settings = settings;
    this.tlsActive = tlsActive;
    RecordParser parser = RecordParser.newDelimited("\r\n", this::onLine);
    parser.maxRecordSize(MAX_REPLY_LINE);
    parser.exceptionHandler(e -> fail(new SmtpException("reply line longer than " + MAX_REPLY_LINE + " bytes")));
    socket.handler(parser);
    socket.closeHandler(v -> fail(new SmtpException("connection closed by server")));
    socket.exceptionHandler(e -> failAll(new SmtpException("connection error: " + e.getMessage())));
  }

  /** Connects, reads the greeting, says EHLO, upgrades to TLS and authenticates as the settings say. */
  static Future<SmtpConnection> open(Vertx vertx, NetClient client, SmtpSettings s) {
    return client.connect(s.port(), s.host())
        .recover(e -> Future.failedFuture(new SmtpException("cannot connect to " + s.host() + ":" + s.port() + ": " + e.getMessage())))
        .compose(sock -> {
          SmtpConnection c = new SmtpConnection(vertx, sock, s, s.tls() == SmtpSettings.Tls.IMPLICIT);
          return c.handshake().map(c).onFailure(e -> c.close());
        });
  }

  private Future<Void> handshake() {
    return expect(settings.commandTimeout(), false)
        .compose(greeting -> greeting.code() == 220
            ? ehlo()
            : Future.failedFuture(new SmtpException("server greeting: " + greeting.text(), greeting, false)))
        .compose(v -> startTlsIfWanted())
        .compose(v -> authenticateIfWanted());
  }

  private Future<Void> ehlo() {
    return command("EHLO " + settings.heloName()).compose(r -> {
      if (r.code() == 250) {
        extensions.clear();
        authMechanisms.clear();
        for (int i = 1; i < r.lines().size(); i++) {
          String ext = r.lines().get(i).toUpperCase(Locale.ROOT);
          extensions.add(ext.split(" ", 2)[0]);
          if (ext.startsWith("AUTH ") || ext.startsWith("AUTH=")) {
            for (String m : ext.substring(5).split(" ")) {
              authMechanisms.add(m.trim());
            }
          }
        }
        return Future.succeededFuture();
      }
      if (r.isPermanent()) {
        // an RFC 821 server: no extensions
        return command("HELO " + settings.heloName()).compose(h -> h.code() == 250
            ? Future.<Void>succeededFuture()
            : Future.failedFuture(new SmtpException("HELO refused: " + h.text(), h, false)));
      }
      return Future.failedFuture(new SmtpException("EHLO refused: " + r.text(), r, false));
    });
  }

  private Future<Void> startTlsIfWanted() {
    SmtpSettings.Tls mode = settings.tls();
    if (tlsActive || mode == SmtpSettings.Tls.NONE) {
      return Future.succeededFuture();
    }
    if (!extensions.contains("STARTTLS")) {
      return mode == SmtpSettings.Tls.STARTTLS_REQUIRED
          ? Future.failedFuture(new SmtpException("server does not offer STARTTLS, and settings.tls is starttls-required"))
          : Future.succeededFuture();
    }
    return command("STARTTLS").compose(r -> {
      if (r.code() != 220) {
        return mode == SmtpSettings.Tls.STARTTLS_REQUIRED
            ? Future.failedFuture(new SmtpException("STARTTLS refused: " + r.text(), r, false))
            : Future.succeededFuture();
      }
      return socket.upgradeToSsl(sslOptions(settings), settings.host())
          .recover(e -> Future.failedFuture(new SmtpException("TLS handshake failed: " + e.getMessage())))
          .compose(v -> {
            tlsActive = true;
            return ehlo();
          });
    });
  }

  static ClientSSLOptions sslOptions(SmtpSettings s) {
    ClientSSLOptions o = new ClientSSLOptions().setTrustAll(s.trustAll());
    o.setHostnameVerificationAlgorithm(s.trustAll() ? "" : "HTTPS");
    return o;
  }

  private Future<Void> authenticateIfWanted() {
    if (settings.username() == null) {
      return Future.succeededFuture();
    }
    if (!tlsActive && !settings.allowPlaintextAuth()) {
      return Future.failedFuture(new SmtpException(
          "refusing to send the password without TLS (set tls to starttls-required or implicit, or allowPlaintextAuth)"));
    }
    Future<SmtpReply> auth;
    if (authMechanisms.contains("PLAIN") || !authMechanisms.contains("LOGIN")) {
      String token = b64("\0" + settings.username() + "\0" + settings.password());
      auth = command("AUTH PLAIN " + token);
    } else {
      auth = command("AUTH LOGIN")
          .compose(r -> r.code() == 334 ? command(b64(settings.username())) : Future.succeededFuture(r))
          .compose(r -> r.code() == 334 ? command(b64(settings.password())) : Future.succeededFuture(r));
    }
    return auth.compose(r -> r.code() == 235
        ? Future.succeededFuture()
        // the reply text is the server's; our own message never includes the credentials
        : Future.failedFuture(new SmtpException("authentication failed: " + r.text(), r, false, r.code() == 535 || r.code() == 534)));
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * One mail transaction: envelope, then the already encoded DATA section. Server refusals become outcomes;
   * connection failures fail the future (and leave this connection unusable).
   */
  Future<Outcome> send(EmailAddress mailFrom, EmailAddress rcptTo, Buffer data, String messageId, boolean smtpUtf8) {
    messages++;
    String mail = mailFrom(mailFrom, smtpUtf8);
    String rcpt = "RCPT TO:<" + envelope(rcptTo, smtpUtf8) + ">\r\n";
    Future<SmtpReply> mailReply;
    Future<SmtpReply> rcptReply;
    Future<SmtpReply> dataReply;
    if (extensions.contains("PIPELINING")) {
      socket.write(Buffer.buffer(mail + rcpt + "DATA\r\n"));
      mailReply = expect(settings.commandTimeout(), false);
      rcptReply = expect(settings.commandTimeout(), false);
      dataReply = expect(settings.commandTimeout(), false);
    } else {
      mailReply = command(mail.substring(0, mail.length() - 2));
      rcptReply = mailReply.compose(r -> r.isPositive() ? command(rcpt.substring(0, rcpt.length() - 2)) : Future.succeededFuture(r));
      dataReply = rcptReply.compose(r -> r.isPositive() ? command("DATA") : Future.succeededFuture(r));
    }
    return Future.all(mailReply, rcptReply, dataReply).compose(all -> {
      SmtpReply m = mailReply.result();
      SmtpReply r = rcptReply.result();
      SmtpReply d = dataReply.result();
      if (!m.isPositive() || !r.isPositive() || d.code() != 354) {
        SmtpReply refusal = !m.isPositive() ? m : !r.isPositive() ? r : d;
        // a refused sender (MAIL FROM) says nothing about the recipient: the backend's configuration is at fault,
        // so every recipient is deferred rather than failed
        Outcome o = refusal == m
            ? new Outcome.Temporary(m.code(), "sender refused: " + m.text(), Outcome.Fault.BACKEND)
            : refusal(refusal);
        // a server that says 354 after refusing every recipient gets an empty DATA section, never the message
        Future<?> end = d.code() == 354 ? writeAndExpect(Buffer.buffer(".\r\n"), settings.dataTimeout(), false) : Future.succeededFuture();
        return end.compose(v -> reset()).map(o);
      }
      return writeAndExpect(data, settings.dataTimeout(), true).map(done -> {
        if (done.code() == 250) {
          return new Outcome.Sent(messageId, done.code(), done.text(), peer(), tlsActive ? settings.host() : null);
        }
        return refusal(done);
      });
    });
  }

  /**
   * One mail transaction for several recipients of the same message (a shared or MIME job): MAIL, a RCPT per
   * recipient and DATA (in one write with PIPELINING), then the message once if any recipient was accepted. The
   * outcomes are per recipient, in order: its RCPT refusal, or the final reply to the message. Connection failures
   * fail the future (after DATA, marked as such: the server may have taken the message).
   */
  Future<List<Outcome>> sendMany(EmailAddress mailFrom, List<EmailAddress> rcptTo, Buffer data, String messageId,
      boolean smtpUtf8) {
    messages++;
    String mail = mailFrom(mailFrom, smtpUtf8);
    List<String> rcpts = rcptTo.stream().map(a -> "RCPT TO:<" + envelope(a, smtpUtf8) + ">\r\n").toList();
    Future<SmtpReply> mailReply;
    List<Future<SmtpReply>> rcptReplies = new ArrayList<>();
    Future<SmtpReply> dataReply;
    if (extensions.contains("PIPELINING")) {
      socket.write(Buffer.buffer(mail + String.join("", rcpts) + "DATA\r\n"));
      mailReply = expect(settings.commandTimeout(), false);
      rcpts.forEach(r -> rcptReplies.add(expect(settings.commandTimeout(), false)));
      dataReply = expect(settings.commandTimeout(), false);
    } else {
      // one command at a time: each RCPT after the reply to the one before
      Future<SmtpReply> m0 = command(mail.substring(0, mail.length() - 2));
      mailReply = m0;
      Future<SmtpReply> last = m0;
      boolean[] anyAccepted = {false};
      for (String r : rcpts) {
        Future<SmtpReply> f = last.compose(prev -> !m0.result().isPositive() ? Future.succeededFuture(m0.result())
            : command(r.substring(0, r.length() - 2)).map(x -> {
              anyAccepted[0] |= x.isPositive();
              return x;
            }));
        rcptReplies.add(f);
        last = f;
      }
      dataReply = last.compose(x -> anyAccepted[0] ? command("DATA") : Future.succeededFuture(x));
    }
    List<Future<SmtpReply>> all = new ArrayList<>(rcptReplies);
    all.add(mailReply);
    all.add(dataReply);
    return Future.all(all).compose(x -> {
      SmtpReply m = mailReply.result();
      List<Outcome> out = new ArrayList<>(rcpts.size());
      if (!m.isPositive()) {
        // the sender refused says nothing of the recipients: every one deferred, as in a single transaction
        Outcome o = new Outcome.Temporary(m.code(), "sender refused: " + m.text(), Outcome.Fault.BACKEND);
        rcpts.forEach(r -> out.add(o));
      } else {
        rcptReplies.forEach(f -> out.add(f.result().isPositive() ? null : refusal(f.result())));
      }
      SmtpReply d = dataReply.result();
      boolean anyAccepted = out.contains(null);
      if (!anyAccepted || d.code() != 354) {
        Outcome refused = anyAccepted ? refusal(d) : null;
        out.replaceAll(o -> o == null ? refused : o);
        // a 354 after every recipient was refused gets an empty DATA section, never the message
        Future<?> end = d.code() == 354 ? writeAndExpect(Buffer.buffer(".\r\n"), settings.dataTimeout(), false)
            : Future.succeededFuture();
        return end.compose(v -> reset()).map(v -> out);
      }
      return writeAndExpect(data, settings.dataTimeout(), true).map(done -> {
        Outcome o = done.code() == 250
            ? new Outcome.Sent(messageId, done.code(), done.text(), peer(), tlsActive ? settings.host() : null)
            : refusal(done);
        out.replaceAll(r -> r == null ? o : r);
        return out;
      });
    });
  }

  /** Whether the server's EHLO reply offered the extension (upper case: "SMTPUTF8", "8BITMIME"). */
  boolean offers(String extension) {
    return extensions.contains(extension);
  }

  /**
   * {@code MAIL FROM:<...>}, with SMTPUTF8 (RFC 6531) and BODY=8BITMIME (where offered) for a transaction that carries
   * UTF-8 addresses or headers; only asked for when the server offers SMTPUTF8.
   */
  private String mailFrom(EmailAddress from, boolean smtpUtf8) {
    if (!smtpUtf8) {
      return "MAIL FROM:<" + envelope(from, false) + ">\r\n";
    }
    return "MAIL FROM:<" + from.value() + "> SMTPUTF8" + (extensions.contains("8BITMIME") ? " BODY=8BITMIME" : "") + "\r\n";
  }

  /**
   * An address as the envelope carries it: as is (UTF-8) with SMTPUTF8, else in ASCII, an IDN domain as A-labels.
   * The backend never sends an address without an ASCII form without SMTPUTF8; refusing here keeps the bytes unmangled.
   */
  private static String envelope(EmailAddress a, boolean smtpUtf8) {
    if (smtpUtf8) {
      return a.value();
    }
    String ascii = a.asciiForm();
    if (ascii == null) {
      throw new IllegalStateException("an address with a UTF-8 local part needs SMTPUTF8");
    }
    return ascii;
  }

  /** The server connected to, as resolved: "address:port". */
  private String peer() {
    if (peer == null) {
      io.vertx.core.net.SocketAddress a = socket.remoteAddress();
      peer = a == null || a.hostAddress() == null ? settings.host() + ":" + settings.port() : a.hostAddress() + ":" + a.port();
    }
    return peer;
  }

  private String peer;

  private Outcome refusal(SmtpReply reply) {
    if (reply.code() == 421) {
      close();
    }
    return reply.isPermanent()
        ? new Outcome.Permanent(reply.code(), reply.text())
        : new Outcome.Temporary(reply.code(), reply.text(),
            reply.code() == 421 ? Outcome.Fault.BACKEND : Outcome.Fault.RECIPIENT);
  }

  private Future<Void> reset() {
    if (closed) {
      return Future.succeededFuture();
    }
    return command("RSET").compose(r -> {
      if (r.code() != 250) {
        close();
      }
      return Future.<Void>succeededFuture();
    });
  }

  /** Says QUIT and closes, without waiting long for the answer. */
  Future<Void> quit() {
    if (closed) {
      return Future.succeededFuture();
    }
    return command("QUIT").transform(ar -> {
      close();
      return Future.succeededFuture();
    });
  }

  boolean usable() {
    return !closed && messages < settings.maxMessagesPerConnection();
  }

  long idleSince() {
    return idleSince;
  }

  void markIdle() {
    idleSince = System.nanoTime();
  }

  void close() {
    if (!closed) {
      closed = true;
      socket.close();
      fail(new SmtpException("connection closed"));
    }
  }

  private Future<SmtpReply> command(String line) {
    if (closed) {
      return Future.failedFuture(new SmtpException("connection closed"));
    }
    socket.write(Buffer.buffer(line + "\r\n"));
    return expect(settings.commandTimeout(), false);
  }

  private Future<SmtpReply> writeAndExpect(Buffer data, Duration timeout, boolean afterData) {
    if (closed) {
      return Future.failedFuture(new SmtpException("connection closed"));
    }
    socket.write(data);
    return expect(timeout, afterData);
  }

  private Future<SmtpReply> expect(Duration timeout, boolean afterData) {
    Promise<SmtpReply> p = Promise.promise();
    if (closed) {
      p.fail(new SmtpException("connection closed"));
      return p.future();
    }
    long timer = vertx.setTimer(timeout.toMillis(), id -> {
      String what = afterData ? "no reply within " + timeout.toSeconds() + "s after the end of DATA"
          : "no reply within " + timeout.toSeconds() + "s";
      failAll(new SmtpException(what, null, afterData));
    });
    pending.add(new Pending(p, timer, afterData));
    return p.future();
  }

  private void onLine(Buffer line) {
    String s = line.toString(StandardCharsets.UTF_8);
    if (s.length() < 3 || !Character.isDigit(s.charAt(0)) || !Character.isDigit(s.charAt(1)) || !Character.isDigit(s.charAt(2))) {
      failAll(new SmtpException("malformed reply from server"));
      return;
    }
    boolean more = s.length() > 3 && s.charAt(3) == '-';
    replyLines.add(s.length() > 4 ? s.substring(4) : "");
    if (more) {
      return;
    }
    SmtpReply reply = new SmtpReply(Integer.parseInt(s.substring(0, 3)), replyLines);
    replyLines = new ArrayList<>();
    Pending p = pending.poll();
    if (p == null) {
      // unsolicited (e.g. 421 before a shutdown): the connection is no longer trustworthy
      close();
      return;
    }
    vertx.cancelTimer(p.timer());
    p.promise().tryComplete(reply);
  }

  private void fail(SmtpException e) {
    closed = true;
    failPending(e);
  }

  private void failAll(SmtpException e) {
    boolean wasClosed = closed;
    closed = true;
    failPending(e);
    if (!wasClosed) {
      socket.close();
    }
  }

  private void failPending(SmtpException e) {
    Pending p;
    while ((p = pending.poll()) != null) {
      vertx.cancelTimer(p.timer());
      SmtpException err = p.afterData() && !e.afterData() ? new SmtpException(e.getMessage(), null, true) : e;
      p.promise().tryFail(err);
    }
  }
}
