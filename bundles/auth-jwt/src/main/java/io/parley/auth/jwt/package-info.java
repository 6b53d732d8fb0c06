/**
 * HS256 JSON Web Tokens for Parley: {@link io.parley.auth.jwt.JwtTokens} mints and verifies them, and
 * {@link io.parley.auth.jwt.TokenTool} is the command line behind {@code bin/parley token}. Plain Java with no
 * OSGi imports, so an integrator's app server can use the jar (plus nimbus-jose-jwt and parley-core) directly.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package io.parley.auth.jwt;
