package io.mailgate.message;

import io.mailgate.error.InvalidInputException;
import java.net.IDN;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.Locale;

/**
 * A validated mailbox address (local@domain). Stricter than RFC 5321 on purpose: no quoted local parts, no IP
 * literals, no source routes. Whatever passes can be written into an SMTP command and a header without quoting.
 * Called once per recipient, so it is a hand-written scan rather than a regex, and a plain ASCII address costs no
 * allocation.
 *
 * <p>Internationalised addresses (RFC 6530/6531/6532) are accepted: a local part may carry UTF-8 (RFC 6531's atext
 * extended with non-ASCII characters, but no control, space, separator or bidirectional formatting characters) and
 * the domain may be an IDN, given as U-labels ({@code bücher.example}) or A-labels ({@code xn--bcher-kva.example}).
 * Lengths are counted in octets of UTF-8 (RFC 5321: local part at most 64, the address at most 254; also with the
 * domain as A-labels). {@link #value()} is the canonical form every store and comparison uses: NFC-normalised, an IDN
 * domain in its lower-case Unicode form (U-labels, as {@code java.net.IDN} maps it), an ASCII domain and the local
 * part as given. A domain that IDNA would map to a different name (ß to ss, full-width letters, 。 as a dot) is
 * refused rather than silently changed. Comparisons fold the case of ASCII letters only ({@link #key}), as the
 * database's {@code lower()} does in the C locale.
 */
public record EmailAddress(String value) {

  public static final int MAX_LENGTH = 254;
  public static final int MAX_LOCAL = 64;

  /** The ASCII scan's verdict that the address has non-ASCII characters or A-labels: the Unicode checks decide. */
  private static final String UNICODE = new String("unicode");

  private static final int IDN_FLAGS = IDN.USE_STD3_ASCII_RULES;

  public static EmailAddress parse(String raw, String field) {
    return new EmailAddress(canonical(raw, field));
  }

  /** The canonical form of {@code raw} ({@code raw} itself for a plain ASCII address); invalid input is a 400. */
  public static String canonical(String raw, String field) {
    String p = asciiProblem(raw);
    if (p == null) {
      return raw;
    }
    if (p == UNICODE) {
      Unicode u = unicode(raw);
      if (u.problem == null) {
        return u.canonical;
      }
      p = u.problem;
    }
    throw new InvalidInputException("invalid_address", field + ": " + p, field);
  }

  /** The canonical form of {@code s}, or null when it is not a valid address ({@link #problem} says why). */
  public static String normalize(String s) {
    String p = asciiProblem(s);
    if (p == null) {
      return s;
    }
    return p == UNICODE ? unicode(s).canonical : null;
  }

  /**
   * The form addresses are compared and stored in by events and suppressions: canonical, ASCII letters lower case
   * (non-ASCII letters as given: their case is not folded); null when not valid.
   */
  public static String key(String s) {
    String c = normalize(s);
    return c == null ? null : asciiLower(c);
  }

  /** {@code s} with ASCII letters in lower case; {@code s} itself when it has no upper-case ASCII letter. */
  public static String asciiLower(String s) {
    int n = s.length();
    int i = 0;
    while (i < n && !(s.charAt(i) >= 'A' && s.charAt(i) <= 'Z')) {
      i++;
    }
    if (i == n) {
      return s;
    }
    char[] c = s.toCharArray();
    for (; i < n; i++) {
      if (c[i] >= 'A' && c[i] <= 'Z') {
        c[i] += 'a' - 'A';
      }
    }
    return new String(c);
  }

  public String domain() {
    return value.substring(value.lastIndexOf('@') + 1);
  }

  /** The domain in ASCII, an IDN as A-labels: for a Message-ID, a DKIM d= or a tenant's domain (stored ASCII). */
  public String asciiDomain() {
    String d = domain();
    return isAscii(d) ? d : IDN.toASCII(d, IDN_FLAGS);
  }

  /** True when the local part has a non-ASCII character: the address can only travel with SMTPUTF8 (RFC 6531). */
  public boolean utf8Local() {
    int at = value.lastIndexOf('@');
    for (int i = 0; i < at; i++) {
      if (value.charAt(i) > 127) {
        return true;
      }
    }
    return false;
  }

  /** True when the whole address is ASCII (no UTF-8 local part, no U-labels). */
  public boolean isAscii() {
    for (int i = 0, n = value.length(); i < n; i++) {
      if (value.charAt(i) > 127) {
        return false;
      }
    }
    return true;
  }

  /**
   * The address in ASCII, its domain as A-labels ({@code user@xn--bcher-kva.example}), as a transport without SMTPUTF8
   * carries it; null when the local part is UTF-8 (it has no ASCII form).
   */
  public String asciiForm() {
    if (isAscii()) {
      return value;
    }
    if (utf8Local()) {
      return null;
    }
    int at = value.lastIndexOf('@');
    return value.substring(0, at + 1) + IDN.toASCII(value.substring(at + 1), IDN_FLAGS);
  }

  /** The address as {@link #asciiForm()}, or this address when it has no ASCII form. */
  public EmailAddress toAscii() {
    String a = asciiForm();
    return a == null || a == value ? this : new EmailAddress(a);
  }

  /**
   * The form the gateway writes in a message header: the ASCII form whenever there is one (an IDN domain as A-labels,
   * readable by every receiver), the UTF-8 address of RFC 6532 only for a UTF-8 local part, which travels only where
   * SMTPUTF8 is offered.
   */
  public String headerForm() {
    String a = asciiForm();
    return a == null ? value : a;
  }

  /** Why {@code s} is not a valid address, or {@code null} if it is. */
  public static String problem(String s) {
    String p = asciiProblem(s);
    return p == UNICODE ? unicode(s).problem : p;
  }

  /**
   * The checks of a plain ASCII address, allocation-free: null when {@code s} is a valid ASCII address without
   * A-labels, {@link #UNICODE} when it is valid as far as its ASCII characters go but has non-ASCII characters or an
   * A-label (the Unicode checks decide), else the problem.
   */
  private static String asciiProblem(String s) {
    if (s == null || s.isEmpty()) {
      return "address is empty";
    }
    int len = s.length();
    if (len > MAX_LENGTH) {
      // every character is at least one octet of UTF-8
      return "address is longer than " + MAX_LENGTH + " octets";
    }
    int at = s.indexOf('@');
    if (at <= 0 || at != s.lastIndexOf('@') || at == len - 1) {
      return "'" + printable(s) + "' is not an address of the form local@domain";
    }
    if (at > MAX_LOCAL) {
      return "local part is longer than " + MAX_LOCAL + " octets";
    }
    boolean unicode = false;
    char prev = '.';
    for (int i = 0; i < at; i++) {
      char c = s.charAt(i);
      if (c == '.') {
        if (prev == '.') {
          return "'" + printable(s) + "' has an empty part before '@'";
        }
      } else if (c > 127) {
        unicode = true;
      } else if (!isAtext(c)) {
        return "'" + printable(s) + "' has a character not allowed in an address";
      }
      prev = c;
    }
    if (prev == '.') {
      return "'" + printable(s) + "' has a local part ending with '.'";
    }
    int labels = 0;
    int labelStart = at + 1;
    boolean labelUnicode = false;
    for (int i = at + 1; i <= len; i++) {
      char c = i == len ? '.' : s.charAt(i);
      if (c == '.') {
        int labelLen = i - labelStart;
        if (labelLen == 0 || labelLen > 63 && !labelUnicode) {
          return "'" + printable(s) + "' has an invalid domain";
        }
        if (s.charAt(labelStart) == '-' || s.charAt(i - 1) == '-') {
          return "'" + printable(s) + "' has a domain label starting or ending with '-'";
        }
        if (labelLen > 4 && (s.charAt(labelStart) | 0x20) == 'x' && (s.charAt(labelStart + 1) | 0x20) == 'n'
            && s.charAt(labelStart + 2) == '-' && s.charAt(labelStart + 3) == '-') {
          unicode = true; // an A-label: stored as its U-label, so both spellings are the same address
        }
        labels++;
        labelStart = i + 1;
        labelUnicode = false;
      } else if (c > 127) {
        unicode = true;
        labelUnicode = true;
      } else if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')) {
        return "'" + printable(s) + "' has an invalid domain";
      }
    }
    if (labels < 2) {
      return "'" + printable(s) + "' has no top-level domain";
    }
    return unicode ? UNICODE : null;
  }

  private record Unicode(String canonical, String problem) {
    static Unicode bad(String problem) {
      return new Unicode(null, problem);
    }
  }

  /** The checks and the canonical form of an address the ASCII scan found non-ASCII characters or A-labels in. */
  private static Unicode unicode(String raw) {
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (Character.isSurrogate(c) && !(Character.isHighSurrogate(c) && i + 1 < raw.length()
          && Character.isLowSurrogate(raw.charAt(++i)))) {
        return Unicode.bad("'" + printable(raw) + "' is not valid Unicode (a lone surrogate)");
      }
    }
    String s = raw;
    if (!Normalizer.isNormalized(raw, Normalizer.Form.NFC)) {
      s = Normalizer.normalize(raw, Normalizer.Form.NFC);
      // NFC may turn a character into ASCII (U+037E into ';', U+212A into 'K'): the ASCII rules again
      String p = asciiProblem(s);
      if (p != null && p != UNICODE) {
        return Unicode.bad(p);
      }
    }
    int at = s.lastIndexOf('@');
    String local = s.substring(0, at);
    String domain = s.substring(at + 1);
    for (int i = 0; i < local.length(); ) {
      int cp = local.codePointAt(i);
      i += Character.charCount(cp);
      if (cp > 127) {
        String why = notAllowed(cp);
        if (why != null) {
          return Unicode.bad("'" + printable(raw) + "' has " + why + " (U+" + String.format(Locale.ROOT, "%04X", cp)
              + ") in its local part");
        }
      }
    }
    int localOctets = utf8Length(local);
    if (localOctets > MAX_LOCAL) {
      return Unicode.bad("local part is longer than " + MAX_LOCAL + " octets (" + localOctets + " octets of UTF-8)");
    }
    String ascii;
    String unicodeDomain;
    try {
      ascii = IDN.toASCII(domain, IDN_FLAGS);
      unicodeDomain = IDN.toUnicode(ascii, IDN_FLAGS);
    } catch (IllegalArgumentException e) {
      return Unicode.bad("'" + printable(raw) + "' has an invalid internationalised domain (" + e.getMessage() + ")");
    }
    // U-labels come out of IDNA in lower case; ASCII labels beside them as given: the whole domain in lower case
    unicodeDomain = asciiLower(unicodeDomain);
    String canonicalDomain;
    if (!isAscii(domain)) {
      String expected = Normalizer.normalize(domain.toLowerCase(Locale.ROOT), Normalizer.Form.NFC);
      if (!unicodeDomain.equals(expected)) {
        return Unicode.bad("'" + printable(raw) + "' has a domain that IDNA maps to another name ('"
            + printable(unicodeDomain) + "'); give the domain as it is registered, or as its A-labels (xn--...)");
      }
      canonicalDomain = unicodeDomain;
    } else {
      // A-labels become their U-labels; one that does not decode (or not back to itself) stays as given
      canonicalDomain = isAscii(unicodeDomain) ? domain : unicodeDomain;
    }
    String canonical = local + "@" + canonicalDomain;
    int octets = utf8Length(canonical);
    if (octets > MAX_LENGTH) {
      return Unicode.bad("address is longer than " + MAX_LENGTH + " octets (" + octets + " octets of UTF-8)");
    }
    if (localOctets + 1 + ascii.length() > MAX_LENGTH) {
      return Unicode.bad("address is longer than " + MAX_LENGTH + " octets with its domain as A-labels");
    }
    return new Unicode(canonical, null);
  }

  /** Why a non-ASCII code point may not be in a local part, or null if it may. */
  private static String notAllowed(int cp) {
    switch (Character.getType(cp)) {
      case Character.CONTROL:
        return "a control character";
      case Character.SPACE_SEPARATOR, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR:
        return "a space or line separator";
      case Character.UNASSIGNED:
        return "an unassigned code point";
      case Character.PRIVATE_USE:
        return "a private-use character";
      default:
        break;
    }
    if (cp >= 0x202A && cp <= 0x202E || cp >= 0x2066 && cp <= 0x2069 || cp == 0x200E || cp == 0x200F
        || cp == 0x061C || cp == 0xFEFF) {
      return "a bidirectional formatting character";
    }
    return null;
  }

  private static boolean isAscii(String s) {
    for (int i = 0, n = s.length(); i < n; i++) {
      if (s.charAt(i) > 127) {
        return false;
      }
    }
    return true;
  }

  /** Octets of {@code s} in UTF-8 (well-formed: lone surrogates are refused before). */
  static int utf8Length(String s) {
    int n = 0;
    for (int i = 0, len = s.length(); i < len; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n++;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  /** The UTF-8 bytes of the address (for a wire that carries it as is). */
  public byte[] utf8() {
    return value.getBytes(StandardCharsets.UTF_8);
  }

  private static boolean isAtext(char c) {
    if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
      return true;
    }
    return "!#$%&'*+-/=?^_`{|}~".indexOf(c) >= 0;
  }

  /** Input as it may be echoed in an error: at most 80 characters, control and bidirectional formatting characters as '?'. */
  public static String printable(String s) {
    StringBuilder b = new StringBuilder(Math.min(s.length(), 80));
    for (int i = 0; i < s.length() && i < 80; i++) {
      char c = s.charAt(i);
      b.append(c < 32 || c == 127 || c >= 0x80 && c <= 0x9F || c == 0x2028 || c == 0x2029 || c >= 0x202A && c <= 0x202E
          || c >= 0x2066 && c <= 0x2069 || c == 0x200E || c == 0x200F || c == 0x061C || c == 0xFEFF ? '?' : c);
    }
    return b.toString();
  }

  @Override
  public String toString() {
    return value;
  }
}
