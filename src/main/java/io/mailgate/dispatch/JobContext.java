package io.mailgate.dispatch;

import io.mailgate.message.Campaign;
import io.mailgate.message.MessageSigner;
import io.mailgate.message.MimeComposer;
import java.time.OffsetDateTime;

/** A job compiled for sending, cached by the dispatcher while its chunks run; {@code signer} may be null. */
record JobContext(Campaign campaign, MimeComposer composer, MessageSigner signer, int chunkSize, OffsetDateTime createdAt) {}
