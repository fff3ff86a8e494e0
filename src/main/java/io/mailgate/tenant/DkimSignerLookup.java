package io.mailgate.tenant;

import io.mailgate.dispatch.SignerLookup;
import io.mailgate.message.MessageSigner;
import io.mailgate.message.dkim.DkimAlgorithm;
import io.mailgate.message.dkim.DkimKeys;
import io.mailgate.message.dkim.DkimSigner;
import io.mailgate.store.DkimStore;
import io.vertx.core.Future;
import java.security.PrivateKey;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The dispatcher's signer for a job: the tenant's newest DKIM key for the From domain, only while the tenant owns
 * that domain; none otherwise (the message goes out unsigned). Decrypted keys are cached per (tenant, domain).
 */
public final class DkimSignerLookup implements SignerLookup {

  /**
   * How long a lookup (a signer, or the absence of one) is reused. Each job asks once when its first chunk starts,
   * so this saves a query and a decryption per job; a key added, deleted or a domain removed applies to jobs
   * starting up to this long later.
   */
  static final long CACHE_NANOS = TimeUnit.SECONDS.toNanos(60);
  /** Past this many cached entries, expired ones are dropped on the next miss (From domains are tenant input). */
  static final int CACHE_SWEEP_SIZE = 1000;

  private record Key(UUID tenantId, String domain) {}

  private record Entry(Future<Optional<MessageSigner>> signer, long expiresAt) {}

  private final DkimStore store;
  private final SecretBox secrets;
  private final ConcurrentHashMap<Key, Entry> cache = new ConcurrentHashMap<>();

  public DkimSignerLookup(DkimStore store, SecretBox secrets) {
    this.store = store;
    this.secrets = secrets;
  }

  @Override
  public Future<Optional<MessageSigner>> signer(UUID tenantId, String fromDomain) {
    Key key = new Key(tenantId, fromDomain.toLowerCase(Locale.ROOT));
    long now = System.nanoTime();
    Entry e = cache.get(key);
    if (e != null && now - e.expiresAt() < 0) {
      return e.signer();
    }
    if (cache.size() > CACHE_SWEEP_SIZE) {
      cache.values().removeIf(x -> now - x.expiresAt() >= 0);
    }
    Future<Optional<MessageSigner>> f = store.signingKey(key.tenantId(), key.domain()).map(k -> k.map(this::signer));
    Entry fresh = new Entry(f, now + CACHE_NANOS);
    cache.put(key, fresh);
    // a failed lookup (database down, undecryptable key) is not remembered: the next job asks again
    f.onFailure(x -> cache.remove(key, fresh));
    return f;
  }

  private MessageSigner signer(DkimStore.SigningKey k) {
    DkimAlgorithm algorithm = DkimAlgorithm.byTag(k.algorithm())
        .orElseThrow(() -> new IllegalStateException("unknown DKIM algorithm " + k.algorithm()));
    byte[] pkcs8 = secrets.open(k.sealedPrivateKey());
    try {
      PrivateKey pk = DkimKeys.privateKey(algorithm, pkcs8);
      return new DkimSigner(algorithm, k.domain(), k.selector(), pk);
    } finally {
      Arrays.fill(pkcs8, (byte) 0);
    }
  }
}
