package io.parley.core.spi.admin;

/**
 * One installed bundle.
 *
 * @param id           bundle id
 * @param symbolicName {@code Bundle-SymbolicName}
 * @param version      {@code Bundle-Version}
 * @param state        {@code ACTIVE}, {@code RESOLVED}, {@code INSTALLED}, {@code STARTING}, {@code STOPPING}
 * @param area         {@link #DEPLOY} (hot-swappable, removable), {@link #SYSTEM} (installed at start, not
 *                     removable here) or {@link #OTHER} (the framework, or installed by other means)
 * @param file         the jar's file name in its directory, or null
 */
public record BundleInfo(long id, String symbolicName, String version, String state, String area, String file) {
    public static final String DEPLOY = "deploy";
    public static final String SYSTEM = "system";
    public static final String OTHER = "other";

    /** @return true for a bundle of {@code deploy/}: install, update and remove by name apply to it */
    public boolean removable() {
        return DEPLOY.equals(area);
    }
}
