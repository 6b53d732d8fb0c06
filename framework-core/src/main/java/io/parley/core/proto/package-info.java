/**
 * Wire protocol v1, generated from {@code parley/v1/protocol.proto} (shipped inside this bundle).
 * Frames, the open message envelope and error codes. See {@code docs/protocol.md}.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.6.0")
package io.parley.core.proto;
