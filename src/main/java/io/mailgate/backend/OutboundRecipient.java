package io.mailgate.backend;

import io.mailgate.message.EmailAddress;
import java.util.Map;

/** A recipient handed to a backend: its position in the job, address, template vars and attempt number. */
public record OutboundRecipient(int seq, EmailAddress email, Map<String, Object> vars, int attempt) {}
