package io.mailgate.webhook.in;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;

/** A webhook call as it arrived: its headers and its raw body (signatures are over the exact bytes). */
public record HookRequest(MultiMap headers, Buffer body, long nowMillis) {}
