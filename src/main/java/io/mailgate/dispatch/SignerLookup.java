package io.mailgate.dispatch;

import io.mailgate.message.MessageSigner;
import io.vertx.core.Future;
import java.util.Optional;
import java.util.UUID;

/** Finds the signer for a tenant's From domain (its newest DKIM key for that domain), if it has one. */
public interface SignerLookup {

  Future<Optional<MessageSigner>> signer(UUID tenantId, String fromDomain);

  SignerLookup NONE = (tenant, domain) -> Future.succeededFuture(Optional.empty());
}
