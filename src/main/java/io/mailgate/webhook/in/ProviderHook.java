package io.mailgate.webhook.in;

import io.vertx.core.Future;

/**
 * One provider's webhook for one backend: checks that a call is the provider's own (its signature or credentials,
 * and that it is fresh and not replayed), then reads the events it carries. Throws (or fails with)
 * {@link io.mailgate.error.NotAuthenticatedException} for a call without valid proof, {@link io.mailgate.error.ForbiddenException}
 * for a stale, replayed or not allowed one, {@link io.mailgate.error.InvalidInputException} for a body it cannot read.
 */
public interface ProviderHook {

  Future<HookCall> receive(HookRequest request);
}
