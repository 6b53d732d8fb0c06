package io.parley.core.spi.admin;

/**
 * A registered message store or blob store service.
 *
 * @param kind          {@link #MESSAGE} or {@link #BLOB}
 * @param name          its {@code parley.store.name} / {@code parley.blob.store.name}
 * @param bundle        symbolic name of the bundle registering it
 * @param bundleVersion that bundle's version
 * @param inUse         a message store: the core uses it now; a blob store: another bundle (the HTTP API) has it
 *                      bound
 * @param health        the message store in use: {@code writable}, or why not (the write failure it reports); another
 *                      message store: {@code not in use} (it is not activated to be asked); a blob store:
 *                      {@code unknown} (blob stores report none)
 */
public record StoreInfo(String kind, String name, String bundle, String bundleVersion, boolean inUse, String health) {
    public static final String MESSAGE = "message";
    public static final String BLOB = "blob";
    public static final String WRITABLE = "writable";
}
