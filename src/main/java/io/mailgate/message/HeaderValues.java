package io.mailgate.message;

import io.mailgate.error.InvalidInputException;
import jakarta.mail.internet.MimeUtility;
import java.io.UnsupportedEncodingException;

/** Checks and encodes header field values: no line breaks in, RFC 2047 encoded words out. */
public final class HeaderValues {
  private HeaderValues() {}

  /** Header injection guard: a CR, LF or NUL in a value could start a new header or a body. */
  public static void rejectLineBreaks(String value, String field) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '\r' || c == '\n' || c == 0) {
        throw new InvalidInputException("header_injection", field + " must not contain CR, LF or NUL", field);
      }
    }
  }

  /** True if every character is printable ASCII or a tab. */
  public static boolean isPlainAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c > 126 || c < 32 && c != '\t') {
        return false;
      }
    }
    return true;
  }

  /** An unstructured header value (Subject, custom headers), encoded if needed and folded to 78 columns. */
  public static String unstructured(String headerName, String value) {
    String encoded = value;
    if (isPlainAscii(value) && longestWord(value) > 998 - headerName.length() - 2) {
      encoded = encodedWords(value);
    } else if (!isPlainAscii(value)) {
      try {
        encoded = MimeUtility.encodeText(value, "UTF-8", "B");
      } catch (UnsupportedEncodingException e) {
        throw new IllegalStateException(e);
      }
    }
    return MimeUtility.fold(headerName.length() + 2, encoded);
  }

  private static int longestWord(String s) {
    int longest = 0;
    int run = 0;
    for (int i = 0; i < s.length(); i++) {
      run = s.charAt(i) == ' ' || s.charAt(i) == '\t' ? 0 : run + 1;
      longest = Math.max(longest, run);
    }
    return longest;
  }

  /** RFC 2047 B words of at most 45 bytes each (72 characters), for a value that folding cannot break. */
  private static String encodedWords(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i += 45) {
      String chunk = s.substring(i, Math.min(s.length(), i + 45));
      b.append(b.length() == 0 ? "" : " ").append("=?UTF-8?B?")
          .append(java.util.Base64.getEncoder().encodeToString(chunk.getBytes(java.nio.charset.StandardCharsets.US_ASCII)))
          .append("?=");
    }
    return b.toString();
  }

  /** A display name: quoted when it has specials, encoded when it is not ASCII. */
  static String phrase(String name) {
    if (!isPlainAscii(name)) {
      try {
        return MimeUtility.encodeWord(name, "UTF-8", "B");
      } catch (UnsupportedEncodingException e) {
        throw new IllegalStateException(e);
      }
    }
    for (int i = 0; i < name.length(); i++) {
      if ("()<>[]:;@\\,.\"".indexOf(name.charAt(i)) >= 0) {
        return "\"" + name.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
      }
    }
    return name;
  }
}
