package io.mailgate.message;

/** One recipient's subject (one line), text and html (CRLF line breaks; either may be null). */
public record RenderedParts(String subject, String text, String html) {}
