package io.mailgate.config;

import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.HexFormat;

/** Names this process in chunk leases, so an operator can tell which node holds which chunk. */
final class NodeIds {
  private NodeIds() {}

  static String generate() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      host = "node";
    }
    byte[] r = new byte[4];
    new SecureRandom().nextBytes(r);
    return host + "-" + ProcessHandle.current().pid() + "-" + HexFormat.of().formatHex(r);
  }
}
