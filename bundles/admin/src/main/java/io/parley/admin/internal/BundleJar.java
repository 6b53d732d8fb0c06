package io.parley.admin.internal;

import io.parley.core.spi.admin.DeploymentException;
import io.parley.core.spi.admin.DeploymentException.Reason;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Pattern;

/**
 * The identity of a bundle jar as its manifest states it, and the rules for bundle names given by an operator.
 * Pure (files only, no OSGi framework); immutable.
 *
 * @param symbolicName {@code Bundle-SymbolicName} without its directives
 * @param version      {@code Bundle-Version} as written (validated as an OSGi version)
 */
record BundleJar(String symbolicName, String version) {

    /** Letters, digits, {@code .}, {@code _} and {@code -}; no path characters; not starting with a dot. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}");

    /**
     * Checks a bundle name given by an operator (a path segment, a Gogo argument): it must be a plain symbolic name,
     * since it becomes a file name in {@code deploy/}.
     *
     * @throws DeploymentException INVALID_NAME
     */
    static String checkName(String name) throws DeploymentException {
        if (name == null || !NAME.matcher(name).matches() || name.contains("..")) {
            throw new DeploymentException(Reason.INVALID_NAME, "invalid bundle name '" + printable(name)
                    + "': a symbolic name of letters, digits, '.', '_' and '-' (no path characters), at most 200");
        }
        return name;
    }

    /**
     * Reads and validates a jar's manifest.
     *
     * @throws DeploymentException INVALID_BUNDLE if the file is not a readable jar with a manifest naming a valid
     *                             {@code Bundle-SymbolicName} and {@code Bundle-Version}
     */
    static BundleJar read(Path jar) throws DeploymentException {
        Manifest manifest;
        try (JarFile file = new JarFile(jar.toFile(), false)) {
            manifest = file.getManifest();
        } catch (IOException | SecurityException e) {
            throw new DeploymentException(Reason.INVALID_BUNDLE, "not a jar (" + e.getMessage() + ")");
        }
        if (manifest == null) {
            throw new DeploymentException(Reason.INVALID_BUNDLE, "the jar has no META-INF/MANIFEST.MF");
        }
        Attributes main = manifest.getMainAttributes();
        String bsn = main.getValue("Bundle-SymbolicName");
        if (bsn == null || bsn.isBlank()) {
            throw new DeploymentException(Reason.INVALID_BUNDLE, "the manifest has no Bundle-SymbolicName: not an "
                    + "OSGi bundle");
        }
        bsn = bsn.split(";", 2)[0].trim();
        try {
            checkName(bsn);
        } catch (DeploymentException e) {
            throw new DeploymentException(Reason.INVALID_BUNDLE, "the manifest's Bundle-SymbolicName is not usable: "
                    + e.getMessage());
        }
        String version = main.getValue("Bundle-Version");
        if (version == null || version.isBlank()) {
            throw new DeploymentException(Reason.INVALID_BUNDLE, "the manifest of " + bsn + " has no Bundle-Version");
        }
        version = version.trim();
        try {
            org.osgi.framework.Version.parseVersion(version);
        } catch (IllegalArgumentException e) {
            throw new DeploymentException(Reason.INVALID_BUNDLE, "the Bundle-Version of " + bsn + " is not an OSGi "
                    + "version: '" + printable(version) + "'");
        }
        return new BundleJar(bsn, version);
    }

    /** @return the jar's identity, or null if it is not a valid bundle jar (an unrelated file in a directory) */
    static BundleJar readOrNull(Path jar) {
        if (!Files.isRegularFile(jar)) {
            return null;
        }
        try {
            return read(jar);
        } catch (DeploymentException e) {
            return null;
        }
    }

    /** At most 80 characters of {@code s}, control characters replaced, for messages. */
    static String printable(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder out = new StringBuilder();
        s.codePoints().limit(80).forEach(c -> out.appendCodePoint(Character.isISOControl(c) ? '?' : c));
        return s.codePointCount(0, s.length()) > 80 ? out + "..." : out.toString();
    }
}
