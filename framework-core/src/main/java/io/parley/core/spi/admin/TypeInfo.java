package io.parley.core.spi.admin;

/**
 * A deployed message type or command.
 *
 * @param kind          {@link #MESSAGE} or {@link #COMMAND}
 * @param type          the type name clients use
 * @param bundle        symbolic name of the bundle serving it ({@code ?} if it cannot be told)
 * @param bundleVersion that bundle's version
 */
public record TypeInfo(String kind, String type, String bundle, String bundleVersion) {
    public static final String MESSAGE = "message";
    public static final String COMMAND = "command";
}
