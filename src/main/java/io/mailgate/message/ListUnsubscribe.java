package io.mailgate.message;

/**
 * A job's one-click unsubscribe (RFC 8058): each recipient's https link, and the tenant's mailto address (or null).
 * Thread-safe and free of I/O: messages are composed on worker threads.
 */
public interface ListUnsubscribe {

  /** The value of {@code List-Unsubscribe-Post} (RFC 8058 section 3.1). */
  String ONE_CLICK = "List-Unsubscribe=One-Click";

  /** The link of the recipient at {@code seq}: what List-Unsubscribe names and {@code {{unsubscribeUrl}}} renders. */
  String url(int seq);

  /** An address that unsubscribes by mail, or null. */
  String mailto();

  /** The List-Unsubscribe value: the https link first (the one a mailbox provider POSTs to), then the mailto. */
  default String header(int seq) {
    String m = mailto();
    return "<" + url(seq) + ">" + (m == null ? "" : ", <mailto:" + m + ">");
  }
}
