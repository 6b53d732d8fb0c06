package io.parley.core.api;

import java.time.Instant;
import java.util.Objects;

/**
 * An authenticated user on one device, as established at hello.
 *
 * @param userId    validated by {@link Ids#checkUserId}
 * @param deviceId  validated by {@link Ids#checkDeviceId}
 * @param expiresAt the last instant the credential that established this principal is accepted (for a JWT: its
 *                  {@code exp} plus the tolerated clock skew); the core ends the session then
 */
public record Principal(String userId, String deviceId, Instant expiresAt) {
    public Principal {
        Ids.checkUserId(userId);
        Ids.checkDeviceId(deviceId);
        Objects.requireNonNull(expiresAt, "expiresAt");
    }
}
