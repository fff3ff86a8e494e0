package io.mailgate.webhook.in;

import java.util.List;

/**
 * What a verified call carries: the events that go into the event log, and how many of the provider's events it held
 * that mailgate does not record (accepted, processed, deferred, ...). {@code note} says what else the call did (an SNS
 * subscription confirmed), or null.
 */
public record HookCall(List<ProviderEvent> events, int ignored, String note) {

  public static HookCall of(List<ProviderEvent> events, int ignored) {
    return new HookCall(events, ignored, null);
  }
}
