package io.parley.core.spi.admin;

/**
 * One logged-in session.
 *
 * @param user          user id
 * @param device        device id
 * @param transport     e.g. {@code tcp}, {@code websocket}
 * @param remoteAddress the peer, e.g. {@code 127.0.0.1:53412}
 * @param sinceMillis   when the hello was accepted (epoch ms)
 * @param idleMillis    ms since the last frame arrived from the client (since the hello if none since)
 * @param sessionId     the core's id for the session (as in logs and {@code HelloOk})
 */
public record SessionInfo(String user, String device, String transport, String remoteAddress, long sinceMillis,
                          long idleMillis, String sessionId) {
}
