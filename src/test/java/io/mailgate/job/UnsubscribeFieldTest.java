package io.mailgate.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mailgate.config.GatewayConfig;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.UnprocessableException;
import io.mailgate.job.JobSpecParser.TenantDefaults;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The job's {@code unsubscribe} field against the tenant's defaults, and what is stored of it. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class UnsubscribeFieldTest {

  private static final GatewayConfig.LimitsConfig LIMITS = GatewayConfig.from(Map.of()).limits();
  private final JobSpecParser parser = new JobSpecParser(LIMITS, true);
  private static final TenantDefaults ON = new TenantDefaults(true, "leave@acme.example");

  private static JsonObject job() {
    return new JsonObject().put("from", "news@acme.example").put("subject", "Hi").put("text", "{{unsubscribeUrl}}");
  }

  @Test
  void theJobsChoiceWinsOverTheTenantsDefault() {
    assertNull(parser.parse(job(), false).unsubscribe());
    assertNull(parser.parse(job().put("unsubscribe", false), false, ON).unsubscribe());
    assertEquals(new JobSpec.Unsubscribe("leave@acme.example"), parser.parse(job(), false, ON).unsubscribe());
    assertEquals(new JobSpec.Unsubscribe(null), parser.parse(job().put("unsubscribe", true), false).unsubscribe());
  }

  @Test
  void theResolvedChoiceIsStoredWithTheSpec() {
    JobSpec spec = parser.parse(job(), false, ON);
    assertEquals(spec.unsubscribe(), JobSpec.fromStored(spec.toJson()).unsubscribe());
    assertNull(JobSpec.fromStored(parser.parse(job(), false).toJson()).unsubscribe());
  }

  @Test
  void isRefusedWhenTheGatewayCannotMakeLinks() {
    JobSpecParser noUrl = new JobSpecParser(LIMITS, false);
    UnprocessableException e = assertThrows(UnprocessableException.class, () -> noUrl.parse(job().put("unsubscribe", true), false));
    assertEquals("unsubscribe_unavailable", e.code());
    assertThrows(UnprocessableException.class, () -> noUrl.parse(job(), false, ON));
    assertNull(noUrl.parse(job().put("unsubscribe", false), false, ON).unsubscribe());
  }

  @Test
  void mustBeABooleanAndTheJobMayNotSetTheHeadersItself() {
    assertEquals("invalid_field", assertThrows(InvalidInputException.class,
        () -> parser.parse(job().put("unsubscribe", "yes"), false)).code());
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> parser.parse(job().put("unsubscribe", true)
        .put("headers", new JsonObject().put("list-unsubscribe", "<https://elsewhere.example/x>")), false));
    assertEquals("reserved_header", e.code());
    // without the gateway's unsubscribe the job's own List-Unsubscribe is its business
    assertEquals("<https://elsewhere.example/x>", parser.parse(job()
        .put("headers", new JsonObject().put("List-Unsubscribe", "<https://elsewhere.example/x>")), false).headers().get("List-Unsubscribe"));
  }
}
