package io.parley.client.bench;

/** Issues the token a load-tool user presents in {@code Hello}. Implementations are thread-safe. */
@FunctionalInterface
public interface TokenMinter {
    String mint(String userId, String deviceId);
}
