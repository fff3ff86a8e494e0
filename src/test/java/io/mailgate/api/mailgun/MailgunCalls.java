package io.mailgate.api.mailgun;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mailgun.api.v3.MailgunMessagesApi;
import com.mailgun.client.MailgunClient;
import com.mailgun.model.message.MessageResponse;
import feign.Logger;
import feign.Retryer;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the Mailgun API tests share: the official client for a tenant, the job id of an answer, a tenant's domain. */
final class MailgunCalls {
  private MailgunCalls() {}

  private static final Pattern ID = Pattern.compile("<([0-9a-f-]{36})@[a-z.]+>");

  /** Mailgun's Java client against the gateway, as the tenant, not retrying (a refused call is the answer). */
  static MailgunMessagesApi messages(Api api, TenantKey t) {
    return MailgunClient.config(api.base(), t.apiKey()).retryer(Retryer.NEVER_RETRY).logLevel(Logger.Level.NONE)
        .createApi(MailgunMessagesApi.class);
  }

  /** The job id in a Mailgun answer's {@code <jobId@domain>}. */
  static String jobId(MessageResponse r) {
    return jobId(r.getId());
  }

  /** The job id in a Mailgun id {@code <jobId@domain>}. */
  static String jobId(String id) {
    Matcher m = ID.matcher(id);
    assertTrue(m.matches(), id);
    return m.group(1);
  }

  /** Gives the tenant {@code domain} as its one domain. */
  static void domains(Api api, TenantKey t, String domain) {
    Api.expect(api.put("/v1/admin/tenants/" + t.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add(domain))), 200);
  }
}
