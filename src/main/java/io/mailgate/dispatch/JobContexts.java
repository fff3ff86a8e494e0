package io.mailgate.dispatch;

import io.mailgate.job.JobSpec;
import io.mailgate.message.MimeComposer;
import io.mailgate.store.DispatchStore;
import io.mailgate.store.DispatchStore.JobRow;
import io.vertx.core.Future;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The jobs a dispatcher sends, compiled once (templates, MIME composer, DKIM signer) and kept for reuse by their
 * next chunks: at most {@code size} of them, each for at most a minute (the DKIM key lookup's own cache time, so a
 * deleted key stops signing), and MIME jobs and jobs with attachments (whose message and its signed copy, or files
 * and their encodings, may weigh megabytes each; see {@link io.mailgate.message.Attachment#weight()}) within
 * {@code mimeBytes} together: the least recently used go first. Used from the dispatcher's event loop.
 *
 * <p>Intake stores a job's files and message in parts and never holds them whole; a job context does: each is
 * reassembled from its parts into one array ({@link DispatchStore#jobAttachments}, {@link DispatchStore#jobMessage}),
 * read once per cached context and shared by every message of the job. That is bounded per job by what intake takes
 * (Mailgun's 25 MB request, {@code MAILGATE_MAX_MIME_MESSAGE}, {@code MAILGATE_MAX_JSON_ATTACHMENT_BYTES}) and across
 * jobs by {@code mimeBytes}.
 */
final class JobContexts {

  private static final long TTL_NANOS = 60_000_000_000L;

  private final DispatchStore store;
  private final SignerLookup signers;
  private final io.mailgate.unsubscribe.UnsubscribeTokens unsubscribe;
  private final Map<UUID, Future<JobContext>> jobs;

  JobContexts(DispatchStore store, SignerLookup signers, io.mailgate.unsubscribe.UnsubscribeTokens unsubscribe, int size) {
    this(store, signers, unsubscribe, size, Long.MAX_VALUE);
  }

  private final long mimeBytes;

  JobContexts(DispatchStore store, SignerLookup signers, io.mailgate.unsubscribe.UnsubscribeTokens unsubscribe, int size,
              long mimeBytes) {
    this.mimeBytes = mimeBytes;
    this.unsubscribe = unsubscribe;
    this.store = store;
    this.signers = signers;
    this.jobs = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<UUID, Future<JobContext>> e) {
        return size() > size;
      }
    };
  }

  /** The compiled job; {@code row} (from the claim) saves reading it when it is not cached yet. */
  Future<JobContext> get(UUID jobId, JobRow row) {
    Future<JobContext> f = jobs.get(jobId);
    boolean stale = f != null && f.succeeded() && System.nanoTime() - f.result().loadedAt() > TTL_NANOS;
    if (f == null || f.failed() || stale) {
      Future<JobRow> r = row != null ? Future.succeededFuture(row)
          : store.job(jobId).map(opt -> opt.orElseThrow(() -> new IllegalStateException("job " + jobId + " does not exist")));
      f = r.compose(this::compile);
      jobs.put(jobId, f);
      f.onSuccess(c -> {
        if (weight(Future.succeededFuture(c)) > 0) {
          trimMime(jobId);
        }
      });
    }
    return f;
  }

  /** Drops the least recently used MIME jobs but {@code keep} while their messages weigh more than the bound. */
  private void trimMime(UUID keep) {
    long total = 0;
    for (Future<JobContext> f : jobs.values()) {
      total += weight(f);
    }
    var it = jobs.entrySet().iterator();
    while (total > mimeBytes && it.hasNext()) {
      var e = it.next();
      long w = weight(e.getValue());
      if (w > 0 && !e.getKey().equals(keep)) {
        it.remove();
        total -= w;
      }
    }
  }

  /** What a cached job holds besides its templates: a MIME job's message and signed copy, attachments encoded. */
  private static long weight(Future<JobContext> f) {
    if (!f.succeeded() || f.result().campaign() == null) {
      return 0;
    }
    io.mailgate.message.Campaign c = f.result().campaign();
    return (c.mime() != null ? 2L * c.mime().data().length : 0) + c.attachmentWeight();
  }

  private Future<JobContext> compile(JobRow row) {
    JobSpec spec = JobSpec.fromStored(row.spec());
    io.mailgate.message.ListUnsubscribe links = null;
    if (spec.unsubscribe() != null) {
      if (unsubscribe == null || !unsubscribe.linksAvailable()) {
        // held with the reason (see Dispatcher.run), never sent without the links the job asked for
        return Future.failedFuture(new IllegalStateException(
            "the job asks for one-click unsubscribe but MAILGATE_PUBLIC_URL is not set on this process"));
      }
      links = unsubscribe.forJob(row.tenantId(), row.id(), spec.unsubscribe().mailto());
    }
    io.mailgate.message.ListUnsubscribe jobLinks = links;
    Future<io.mailgate.message.MimeMessage> mime = spec.shape() != io.mailgate.message.Campaign.Shape.MIME
        ? Future.succeededFuture()
        : store.jobMessage(row.id()).map(m -> {
          byte[] data = m.orElseThrow(() -> new IllegalStateException("the message of MIME job " + row.id() + " is missing"));
          return io.mailgate.message.MimeMessage.parse(data, data.length);
        });
    Future<java.util.List<io.mailgate.message.Attachment>> files = JobSpec.storedAttachments(row.spec()) == 0
        ? Future.succeededFuture(java.util.List.of())
        : store.jobAttachments(row.id()).map(list -> {
          if (list.size() != JobSpec.storedAttachments(row.spec())) {
            throw new IllegalStateException("job " + row.id() + " has " + list.size() + " of its "
                + JobSpec.storedAttachments(row.spec()) + " attachments");
          }
          return list;
        });
    return mime.compose(m -> files.compose(list -> compiled(row, spec,
        spec.withAttachments(list).compile(row.id(), row.tenantId(), jobLinks, m))));
  }

  private Future<JobContext> compiled(JobRow row, JobSpec spec, io.mailgate.message.Campaign campaign) {
    return signers.signer(row.tenantId(), campaign.from().address().asciiDomain()).map(signer ->
        new JobContext(campaign, new MimeComposer(campaign), signer.orElse(null), row.chunkSize(), row.createdAt(),
            row.expiresAt(), spec.testMode(), System.nanoTime()));
  }
}
