package dev.orders.peer.clients;

import feign.FeignException;
import io.github.resilience4j.circuitbreaker.annotation.CircuitBreaker;
import io.github.resilience4j.retry.annotation.Retry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;

/**
 * The User service behind Resilience4j. Retry is the outer aspect, so the fallback sits on it: it
 * applies once the retries are spent or the circuit is open. Fallback rule: continue with the
 * identity the gateway verified, recorded as unverified.
 */
@Service
public class UserDirectory {
  private static final Logger log = LoggerFactory.getLogger(UserDirectory.class);

  public enum Check {
    VERIFIED,
    UNVERIFIED,
    REFUSED
  }

  private final UserClient client;

  public UserDirectory(UserClient client) {
    this.client = client;
  }

  @CircuitBreaker(name = "user")
  @Retry(name = "user", fallbackMethod = "unverified")
  public Check check(String userId) {
    try {
      return "active".equals(client.get(userId).status()) ? Check.VERIFIED : Check.REFUSED;
    } catch (FeignException.NotFound unknown) {
      return Check.REFUSED;
    }
  }

  Check unverified(String userId, Throwable cause) {
    if (cause instanceof FeignException.FeignClientException clientError) throw clientError;
    log.warn("user service unavailable, order accepted unverified: {}", cause.toString());
    return Check.UNVERIFIED;
  }
}
