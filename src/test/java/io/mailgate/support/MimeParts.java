package io.mailgate.support;

import jakarta.mail.BodyPart;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/** A received message parsed with jakarta.mail: its structure and its leaf parts, for attachment tests. */
public final class MimeParts {
  private MimeParts() {}

  /** A leaf part: its media type (lower case, no parameters), disposition, file name, Content-ID and decoded bytes. */
  public record Leaf(String type, String contentType, String disposition, String filename, String contentId, byte[] data,
                     String path) {}

  public static MimeMessage parse(byte[] message) throws Exception {
    return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(message));
  }

  /** Every leaf part, depth first; {@code path} is the media types from the top ("multipart/mixed/multipart/related"). */
  public static List<Leaf> leaves(Part message) throws Exception {
    List<Leaf> out = new ArrayList<>();
    walk(message, "", out);
    return out;
  }

  private static void walk(Part p, String path, List<Leaf> out) throws Exception {
    String type = p.getContentType().toLowerCase(java.util.Locale.ROOT);
    String media = type.contains(";") ? type.substring(0, type.indexOf(';')).trim() : type.trim();
    if (media.startsWith("multipart/")) {
      Multipart m = (Multipart) p.getContent();
      for (int i = 0; i < m.getCount(); i++) {
        BodyPart b = m.getBodyPart(i);
        walk(b, path.isEmpty() ? media : path + "/" + media, out);
      }
      return;
    }
    String[] cid = p.getHeader("Content-ID");
    byte[] data;
    try (var in = p.getInputStream()) {
      data = in.readAllBytes();
    }
    out.add(new Leaf(media, p.getContentType(), p.getDisposition(), p.getFileName(), cid == null ? null : cid[0], data, path));
  }

  public static Leaf byName(List<Leaf> leaves, String filename) {
    return leaves.stream().filter(l -> filename.equals(l.filename())).findFirst()
        .orElseThrow(() -> new AssertionError("no part named " + filename + " in " + leaves.stream().map(Leaf::filename).toList()));
  }
}
