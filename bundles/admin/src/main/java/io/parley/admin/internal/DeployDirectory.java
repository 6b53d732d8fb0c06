package io.parley.admin.internal;

import io.parley.core.spi.admin.DeploymentException;
import io.parley.core.spi.admin.DeploymentException.Reason;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The file side of deployments: the jars of {@code deploy/} and {@code system/} by symbolic name, and placing a
 * validated upload into {@code deploy/} with one atomic rename, so that FileInstall never sees a partial file. Pure
 * (files only); the caller serializes calls for the same name.
 *
 * <p>Where a jar goes: if {@code deploy/} already holds a file of the same bundle (found by its manifest, whatever
 * its name), the upload replaces that file in place, which FileInstall performs as an update of the installed bundle
 * (the hot-swap contract's update: same bundle id, the core holds its types through it); other files of the same
 * bundle are deleted. Otherwise it becomes {@code deploy/<symbolic-name>.jar}.
 */
final class DeployDirectory {

    /** What {@link #place} did. {@code replaced}: the file existed before (an update), else a new install. */
    record Placement(BundleJar jar, Path file, boolean replaced, List<Path> deletedDuplicates) {
    }

    private final Path deploy;
    private final Path system;
    private final Path staging;
    private final long maxBytes;

    DeployDirectory(Path deploy, Path system, Path staging, long maxBytes) {
        this.deploy = deploy;
        this.system = system;
        this.staging = staging;
        this.maxBytes = maxBytes;
    }

    Path deploy() {
        return deploy;
    }

    Path system() {
        return system;
    }

    long maxBytes() {
        return maxBytes;
    }

    /** A new empty file in the staging directory (created if missing), never in {@code deploy/}. */
    Path stagingFile() throws IOException {
        Files.createDirectories(staging);
        return Files.createTempFile(staging, "upload-", ".jar");
    }

    /** @return the jars of {@code deploy/} FileInstall watches (not dot-prefixed) holding bundle {@code bsn}, by name */
    List<Path> filesOf(String bsn) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path jar : jars(deploy)) {
            BundleJar b = BundleJar.readOrNull(jar);
            if (b != null && b.symbolicName().equals(bsn)) {
                out.add(jar);
            }
        }
        return out;
    }

    /** @return the symbolic names of the jars in {@code system/} */
    Set<String> systemNames() {
        Set<String> out = new TreeSet<>();
        try {
            for (Path jar : jars(system)) {
                BundleJar b = BundleJar.readOrNull(jar);
                if (b != null) {
                    out.add(b.symbolicName());
                }
            }
        } catch (IOException e) {
            // no system/ directory: nothing reserved from it
        }
        return out;
    }

    /**
     * Validates {@code staged} and moves it into {@code deploy/}; {@code staged} is gone afterwards either way.
     *
     * @param expectedName the symbolic name the jar must have, or null
     * @param reserved     names that must not be deployed (bundles of {@code system/} and others not from
     *                     {@code deploy/}); {@link #systemNames()} is added to them
     * @throws DeploymentException TOO_LARGE, INVALID_BUNDLE, NAME_MISMATCH, SYSTEM_BUNDLE, IO; {@code deploy/} is
     *                             then untouched
     */
    Placement place(Path staged, String expectedName, Set<String> reserved) throws DeploymentException {
        try {
            long size = Files.size(staged);
            if (size > maxBytes) {
                throw new DeploymentException(Reason.TOO_LARGE, "the jar has " + size + " bytes; at most " + maxBytes
                        + " are accepted (max.bundle.bytes)");
            }
            BundleJar jar = BundleJar.read(staged);
            if (expectedName != null && !jar.symbolicName().equals(expectedName)) {
                throw new DeploymentException(Reason.NAME_MISMATCH, "the jar is bundle " + jar.symbolicName()
                        + ", not " + expectedName);
            }
            if (reserved.contains(jar.symbolicName()) || systemNames().contains(jar.symbolicName())) {
                throw new DeploymentException(Reason.SYSTEM_BUNDLE, jar.symbolicName() + " is a system bundle "
                        + "(system/): not hot-swappable; replace it with the server stopped");
            }
            List<Path> previous = filesOf(jar.symbolicName());
            Path target = previous.isEmpty() ? deploy.resolve(jar.symbolicName() + ".jar") : previous.get(0);
            if (previous.isEmpty() && Files.exists(target)) {
                throw new DeploymentException(Reason.IO, "deploy/" + target.getFileName() + " exists and is not a "
                        + "bundle " + jar.symbolicName() + ": move it away first");
            }
            Path part = deploy.resolve("." + jar.symbolicName() + ".jar.part"); // dot-prefixed: FileInstall ignores it
            Files.move(staged, part, StandardCopyOption.REPLACE_EXISTING);
            try {
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
            }
            List<Path> deleted = new ArrayList<>();
            for (Path other : previous.subList(Math.min(1, previous.size()), previous.size())) {
                Files.deleteIfExists(other);
                deleted.add(other);
            }
            return new Placement(jar, target, !previous.isEmpty(), deleted);
        } catch (IOException e) {
            throw new DeploymentException(Reason.IO, "cannot place the jar in " + deploy + ": " + e);
        } finally {
            try {
                Files.deleteIfExists(staged);
            } catch (IOException ignored) {
                // data/tmp: swept by the operator at worst
            }
        }
    }

    /**
     * Deletes every file of {@code deploy/} holding bundle {@code bsn}.
     *
     * @return the deleted files; empty if there were none
     */
    List<Path> remove(String bsn) throws DeploymentException {
        try {
            List<Path> files = filesOf(bsn);
            for (Path f : files) {
                Files.deleteIfExists(f);
            }
            return files;
        } catch (IOException e) {
            throw new DeploymentException(Reason.IO, "cannot delete from " + deploy + ": " + e);
        }
    }

    private static List<Path> jars(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.jar")) {
            for (Path f : files) {
                if (!f.getFileName().toString().startsWith(".")) {
                    out.add(f);
                }
            }
        }
        out.sort(null);
        return out;
    }
}
