/**
 * For push-provider bundles: {@link io.parley.push.spi.PushProvider}, the service the push bundle hands one
 * {@link io.parley.push.spi.Push} per device to, chosen by the token's platform ({@value
 * io.parley.push.spi.PushProvider#PLATFORM}, highest {@code service.ranking} wins), and the
 * {@link io.parley.push.spi.Result} it answers with.
 *
 * <p>Versioned on its own (semantic versioning): consumer types gain abstract methods only in a major version
 * (default methods in a minor one); {@code Push} and {@code Result} gain accessors and factories in a minor one.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.0.0")
package io.parley.push.spi;
