package io.mailgate.message;

import java.util.Arrays;

/**
 * A rendered RFC 5322 message: {@code data[0..length)}, every line ending CRLF. {@code dotAtLineStart} says whether
 * some line begins with '.', which SMTP must dot-stuff. {@code data} may have spare room after {@code length}.
 */
public record ComposedMessage(byte[] data, int length, boolean dotAtLineStart) {

  public byte[] toBytes() {
    return data.length == length ? data : Arrays.copyOf(data, length);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ComposedMessage m && Arrays.equals(toBytes(), m.toBytes());
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(toBytes());
  }

  @Override
  public String toString() {
    return "ComposedMessage[" + length + " bytes]";
  }
}
