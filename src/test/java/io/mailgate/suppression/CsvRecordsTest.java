package io.mailgate.suppression;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class CsvRecordsTest {

  private final CsvRecords csv = new CsvRecords(1000);

  @Test
  void splitsFieldsAndDropsTheCrOfACrlfLineEnd() throws Exception {
    assertEquals(List.of("a@example.com", "manual", ""), csv.line("a@example.com,manual,\r"));
    assertEquals(List.of(""), csv.line(""));
  }

  @Test
  void quotedFieldsHoldCommasDoubledQuotesAndLineBreaks() throws Exception {
    assertEquals(List.of("x,y", "say \"hi\"", ""), csv.line("\"x,y\",\"say \"\"hi\"\"\",\"\""));
    assertNull(csv.line("\"first"));
    assertTrue(csv.inRecord());
    assertEquals(List.of("first\nsecond", "b"), csv.line("second\",b"));
    assertTrue(!csv.inRecord());
  }

  @Test
  void refusesStrayQuotesAndRecordsPastTheLimit() throws Exception {
    assertThrows(CsvRecords.Malformed.class, () -> csv.line("ab\"c,d"));
    assertThrows(CsvRecords.Malformed.class, () -> csv.line("\"ab\"c,d"));
    // after a malformed record the next line starts afresh
    assertEquals(List.of("e", "f"), csv.line("e,f"));
    CsvRecords small = new CsvRecords(20);
    assertNull(small.line("\"0123456789"));
    assertThrows(CsvRecords.Malformed.class, () -> small.line("0123456789"));
    assertTrue(!small.inRecord());
  }

  @Test
  void writesFieldsQuotedOnlyWhereNeededAndFormulasAsQuotedText() {
    StringBuilder out = new StringBuilder();
    for (String v : new String[] {"plain", "a,b", "say \"hi\"", "two\nlines", "=cmd()", "-1", "+1", "@x", null, ""}) {
      CsvRecords.appendField(out, v);
      out.append('|');
    }
    assertEquals("plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\"=cmd()\"|\"-1\"|\"+1\"|\"@x\"|||", out.toString());
  }
}
