/** Types every Parley bundle sees: identities, conversation ids, errors. */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.2.0")
package io.parley.core.api;
