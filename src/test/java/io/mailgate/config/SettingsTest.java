package io.mailgate.config;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SettingsTest {

  private static Settings with(String value) {
    return new Settings(Map.of("X_SETTING", value));
  }

  private static void assertRejectedNamingTheVariable(Runnable read, String value) {
    ConfigException e = assertThrows(ConfigException.class, read::run, () -> "value '" + value + "'");
    assertTrue(e.getMessage().startsWith("X_SETTING "), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({
      "250ms, PT0.25S",
      "30s,   PT30S",
      "5m,    PT5M",
      "8h,    PT8H",
      "2d,    PT48H",
      "0s,    PT0S",
      "'5 m', PT5M",
      "' 30S ', PT30S",
      "90M,   PT1H30M"})
  void parsesDurationsWithUnits(String value, String expected) {
    assertEquals(Duration.parse(expected), with(value).duration("X_SETTING", Duration.ZERO));
  }

  @ParameterizedTest
  @ValueSource(strings = {"30", "5 minutes", "-5s", "1.5h", "abc", "5w", "ms", "5s5", "1h30m"})
  void rejectsMalformedDurationsNamingTheVariable(String value) {
    assertRejectedNamingTheVariable(() -> with(value).duration("X_SETTING", Duration.ZERO), value);
  }

  @ParameterizedTest
  @ValueSource(strings = {"99999999999999999999s", "9999999999999999999ms", "9999999999999999d"})
  void rejectsOverflowingDurationsNamingTheVariable(String value) {
    assertRejectedNamingTheVariable(() -> with(value).duration("X_SETTING", Duration.ZERO), value);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   "})
  void usesTheDefaultForMissingOrBlankValues(String blank) {
    assertEquals(Duration.ofSeconds(7), with(blank).duration("X_SETTING", Duration.ofSeconds(7)));
    assertEquals(Duration.ofSeconds(7), new Settings(Map.of()).duration("X_SETTING", Duration.ofSeconds(7)));
    assertEquals(42L, with(blank).bytes("X_SETTING", 42L));
    assertEquals(3, with(blank).integer("X_SETTING", 3, 0, 10));
    assertTrue(with(blank).bool("X_SETTING", true));
    assertEquals("dflt", with(blank).string("X_SETTING", "dflt"));
  }

  @ParameterizedTest
  @CsvSource({
      "1048576, 1048576",
      "64kb,    65536",
      "64k,     65536",
      "64KiB,   65536",
      "16mb,    16777216",
      "16M,     16777216",
      "'2 mib', 2097152",
      "1gb,     1073741824",
      "0,       0",
      "12b,     12"})
  void parsesSizes(String value, long expected) {
    assertEquals(expected, with(value).bytes("X_SETTING", -1));
  }

  @ParameterizedTest
  @ValueSource(strings = {"64 kilobytes", "-1", "1.5mb", "abc", "mb", "16tb", "0x10"})
  void rejectsMalformedSizesNamingTheVariable(String value) {
    assertRejectedNamingTheVariable(() -> with(value).bytes("X_SETTING", 0), value);
  }

  @ParameterizedTest
  @ValueSource(strings = {"99999999999999999999", "9999999999gb", "9007199254740992kb"})
  void rejectsOverflowingSizesNamingTheVariable(String value) {
    assertRejectedNamingTheVariable(() -> with(value).bytes("X_SETTING", 0), value);
  }

  @Test
  void parsesIntegersWithinRange() {
    assertEquals(10, with(" 10 ").integer("X_SETTING", 0, 1, 10));
    assertEquals(1, with("1").integer("X_SETTING", 0, 1, 10));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "11", "-3", "abc", "1.0", "1e3", "99999999999"})
  void rejectsIntegersOutOfRangeOrMalformedNamingTheVariable(String value) {
    assertRejectedNamingTheVariable(() -> with(value).integer("X_SETTING", 5, 1, 10), value);
  }

  @ParameterizedTest
  @ValueSource(strings = {"true", "TRUE", "yes", "1", "on"})
  void parsesTrue(String value) {
    assertTrue(with(value).bool("X_SETTING", false));
  }

  @ParameterizedTest
  @ValueSource(strings = {"false", "False", "no", "0", "off"})
  void parsesFalse(String value) {
    assertFalse(with(value).bool("X_SETTING", true));
  }

  @ParameterizedTest
  @ValueSource(strings = {"maybe", "2", "enabled"})
  void rejectsOtherBooleansNamingTheVariable(String value) {
    assertRejectedNamingTheVariable(() -> with(value).bool("X_SETTING", true), value);
  }

  @Test
  void trimsStringsAndDefaultsWhenMissing() {
    assertEquals("value", with("  value ").string("X_SETTING", "dflt"));
    assertNull(new Settings(Map.of()).string("X_SETTING", null));
  }

  @Test
  void parseDurationNamesTheGivenSetting() {
    assertEquals(Duration.ofMinutes(3), Settings.parseDuration("retryAfter", "3m"));
    ConfigException e = assertThrows(ConfigException.class, () -> Settings.parseDuration("retryAfter", "soon"));
    assertTrue(e.getMessage().startsWith("retryAfter "), e.getMessage());
  }
}
