package io.parley.core.spi.admin;

import org.osgi.annotation.versioning.ProviderType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Bundle management by name, done through the server's {@code deploy/} directory so that FileInstall installs,
 * updates and uninstalls exactly as when an operator drops or deletes a file (the hot-swap contract holds unchanged).
 * Implemented by the {@code parley-admin} bundle; track it dynamically.
 *
 * <p>Threading: thread-safe. {@link #install} and {@link #remove} block (up to the configured wait, 30 s by default)
 * until FileInstall has acted: never call them on a Netty event loop. Calls for the same name are serialized.
 */
@ProviderType
public interface Deployments {

    /** @return every installed bundle, by id */
    List<BundleInfo> bundles();

    /** @return the largest jar {@link #install} accepts, in bytes ({@code max.bundle.bytes}) */
    long maxBundleBytes();

    /**
     * A new empty file outside {@code deploy/} (under {@code data/tmp}) for the caller to write an upload into and then
     * pass to {@link #install}; the caller deletes it if it does not.
     */
    Path stagingFile() throws IOException;

    /**
     * Validates {@code jar} (a jar with a manifest naming {@code Bundle-SymbolicName} and {@code Bundle-Version}, at
     * most {@link #maxBundleBytes()}, not the name of a {@code system/} bundle), moves it atomically to
     * {@code deploy/<symbolic-name>.jar} (deleting the previous file of the same bundle, found by its manifest,
     * whatever its name), and waits for FileInstall to install or update it.
     *
     * @param jar          the jar; moved or, on refusal, deleted by this call
     * @param expectedName the symbolic name the jar must have, or null to take the jar's
     * @throws DeploymentException if refused; {@code deploy/} is then untouched
     */
    DeployResult install(Path jar, String expectedName) throws DeploymentException;

    /**
     * Deletes the file of bundle {@code name} from {@code deploy/} and waits for FileInstall to uninstall it.
     *
     * @throws DeploymentException NOT_FOUND if no file of {@code deploy/} holds that bundle; SYSTEM_BUNDLE for a
     *                             {@code system/} bundle; INVALID_NAME
     */
    DeployResult remove(String name) throws DeploymentException;
}
