package io.parley.core.spi.admin;

/**
 * What an install, update or remove came to, once FileInstall acted on {@code deploy/} (or the wait ran out).
 *
 * @param name    the bundle's symbolic name
 * @param version its version (the new one after an install), or null after a removal
 * @param state   {@code ACTIVE}, {@code RESOLVED}, {@code INSTALLED}, {@code REMOVED}, or {@code PENDING} when
 *                FileInstall had not acted within the wait
 * @param ok      true if the bundle reached what was asked: ACTIVE (or RESOLVED for a fragment) after an install,
 *                REMOVED after a removal
 * @param message one line for the operator: what happened, or why the bundle did not start (its resolution error)
 */
public record DeployResult(String name, String version, String state, boolean ok, String message) {
}
