package io.parley.core.spi.auth;

import io.parley.core.api.ParleyException;
import io.parley.core.api.Principal;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Turns the credential of a hello into a principal. Registered as an OSGi service; the core uses the one with
 * the highest ranking. With none registered, every hello is refused as {@code UNAVAILABLE}: there is no
 * unauthenticated mode.
 *
 * <p>Threading: called on a core worker; may do CPU work (signature checks) but must not block on I/O.
 */
@ConsumerType
public interface Authenticator {

    /**
     * @param token    the client's credential
     * @param deviceId the device the client claims; the credential may pin it
     * @return the principal; never null
     * @throws ParleyException {@code UNAUTHENTICATED} or {@code TOKEN_EXPIRED}
     */
    Principal authenticate(String token, String deviceId);
}
