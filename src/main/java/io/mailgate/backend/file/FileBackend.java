package io.mailgate.backend.file;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.PerRecipientSender;
import io.mailgate.message.ComposedMessage;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Writes {@code <dir>/<jobId>/<seq>.eml}, the exact bytes an SMTP server would receive (before dot-stuffing). */
final class FileBackend implements MailBackend {

  private final Vertx vertx;
  private final Path dir;
  private final int window;

  FileBackend(Vertx vertx, String dir, int window) {
    this.vertx = vertx;
    this.dir = Paths.get(dir).toAbsolutePath().normalize();
    this.window = window;
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    String jobDir = dir.resolve(delivery.campaign().jobId().toString()).toString();
    return vertx.fileSystem().mkdirs(jobDir)
        .compose(v -> PerRecipientSender.run(delivery, window, r -> delivery.message(r).compose(msg -> {
          String file = jobDir + "/" + r.seq() + ".eml";
          return vertx.fileSystem().writeFile(file, Buffer.buffer().appendBytes(msg.data(), 0, msg.length()))
              .<Outcome>map(x -> new Outcome.Sent(delivery.campaign().messageId(r.seq()), null, "written to file"))
              .recover(e -> Future.succeededFuture(new Outcome.Temporary(null, "cannot write file: " + e.getMessage(), Outcome.Fault.BACKEND)));
        })))
        .recover(e -> {
          // the directory cannot be made: every recipient is deferred with the reason
          return delivery.reportAll(new Outcome.Temporary(null, "cannot create " + jobDir + ": " + e.getMessage(), Outcome.Fault.BACKEND));
        });
  }

  @Override
  public Future<Void> close() {
    return Future.succeededFuture();
  }

  @Override
  public String endpoint() {
    return "file:" + dir;
  }
}
