package io.mailgate.support;

import io.mailgate.support.Api.TenantKey;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Jobs as tests submit them, and what became of their recipients, as the API and the SMTP server saw it. */
public final class TestJobs {

  private TestJobs() {}

  /** {@code n} distinct addresses: prefix0@example.com, prefix1@example.com... */
  public static List<String> emails(String prefix, int n) {
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(prefix + i + "@example.com");
    }
    return out;
  }

  /** A plain text job to the given addresses. */
  public static JsonObject job(String text, List<String> emails) {
    JsonArray rs = new JsonArray();
    emails.forEach(e -> rs.add(new JsonObject().put("email", e)));
    return new JsonObject()
        .put("from", "Acme News <news@acme.example>")
        .put("subject", "Hello")
        .put("text", text)
        .put("recipients", rs);
  }

  /** Submits and returns the job id; fails unless the job is accepted. */
  public static String submit(Api api, TenantKey t, JsonObject job) {
    Api.Response r = api.submitJson(t, job);
    Api.expect(r, 202);
    return r.json().getString("id");
  }

  public static String submit(Api api, TenantKey t, List<String> emails) {
    return submit(api, t, job("Hello,\nthis is a test.\n", emails));
  }

  /** Every recipient of the job by address, as the API shows it. */
  public static Map<String, JsonObject> recipientsByEmail(Api api, TenantKey t, String jobId) {
    Map<String, JsonObject> out = new LinkedHashMap<>();
    api.recipients(t, jobId).forEach(r -> out.put(r.getString("email"), r));
    return out;
  }

  /** One recipient of the job, as the API shows it. */
  public static JsonObject recipient(Api api, TenantKey t, String jobId, String email) {
    JsonObject r = recipientsByEmail(api, t, jobId).get(email);
    if (r == null) {
      throw new AssertionError("job " + jobId + " has no recipient " + email);
    }
    return r;
  }

  /** How many messages the server accepted per envelope recipient. */
  public static Map<String, Integer> receivedPerAddress(ScriptedSmtpServer smtp) {
    Map<String, Integer> out = new HashMap<>();
    smtp.received().forEach(m -> m.rcptTo().forEach(a -> out.merge(a, 1, Integer::sum)));
    return out;
  }

  /** {@code POST /v1/jobs/{id}/pause|resume|cancel}, without a body, as a client would send it. */
  public static Api.Response control(Api api, TenantKey t, String jobId, String verb) {
    return api.send("POST", "/v1/jobs/" + jobId + "/" + verb, t.apiKey(), null, null, Map.of());
  }

  /** The job's counts as the API shows them. */
  public static JsonObject counts(Api api, TenantKey t, String jobId) {
    return api.job(t, jobId).getJsonObject("counts");
  }
}
